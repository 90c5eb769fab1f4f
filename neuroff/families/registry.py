"""The one list of rule families: the CLI, configs, the engine and checkpoints read it.

Adding a family is one folder under ``neuroff/families`` (options, equations, model, rule and a
``family.py`` with its ``Family`` record) plus one line here."""

from __future__ import annotations

from neuroff.errors import NeuroffError
from neuroff.families.base import Family
from neuroff.families.contrastive_hebbian.family import FAMILY as CONTRASTIVE_HEBBIAN
from neuroff.families.ff.family import FAMILY as FF
from neuroff.families.intff.family import FAMILY as INTFF
from neuroff.families.scff.family import FAMILY as SCFF

FAMILIES: dict[str, Family] = {f.name: f for f in (FF, INTFF, SCFF, CONTRASTIVE_HEBBIAN)}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise NeuroffError(f"unknown rule {name!r}; use one of {', '.join(FAMILIES)}")
    return FAMILIES[name]
