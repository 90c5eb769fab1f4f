"""Options of a component, declared once: a dataclass field with its default, one line of help
and its unit. The CLI builds its argument groups from these fields (``neuroff.cli``), config files
use the field names as keys, and a component reads its own group only.

    @dataclass
    class LIFNeuronOptions(OptionGroup):
        title: ClassVar[str] = "LIF neuron (spiking)"
        beta: float = option(0.85, "membrane decay per time step, exp(-dt/tau_mem)", unit="per step")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


def option(
    default: Any = None,
    help: str = "",
    *,
    unit: str | None = None,
    choices: tuple[str, ...] | None = None,
    factory: Any = None,
) -> Any:
    """A dataclass field carrying its help text, unit and allowed values (``choices``)."""
    meta = {"help": help, "unit": unit, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class OptionGroup:
    """Base of every options dataclass: ``title`` names the group in ``--help`` and errors."""

    title: ClassVar[str] = ""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls, values: Any) -> "OptionGroup":
        """This group's fields read off any object that has them (e.g. a run's full config)."""
        return cls(**{name: getattr(values, name) for name in cls.field_names()})


def flag(name: str) -> str:
    """The command-line spelling of a field: ``eligibility_tau`` -> ``--eligibility-tau``."""
    return "--" + name.replace("_", "-")
