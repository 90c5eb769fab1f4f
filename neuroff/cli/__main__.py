"""``python -m neuroff.cli``: the same as the ``neuroff`` command."""

from neuroff.cli import main

main()
