"""Options of Integrated FF (``neuroff.families.intff``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.options import OptionGroup, option


@dataclass
class IntFFOptions(OptionGroup):
    title: ClassVar[str] = "Integrated FF (--rule intff)"
    intff_threshold: float = option(1.5, "theta of a block's loss softplus(-(2s-1)(G - theta))", unit="mean goodness")
