"""Options of Integrated FF (``neuroff.families.intff``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.options import OptionGroup, option


@dataclass
class IntFFOptions(OptionGroup):
    title: ClassVar[str] = "Integrated FF (--rule intff)"
    intff_threshold: float = option(1.5, "theta of a block's loss softplus(-(2s-1)(G - theta))", unit="mean goodness")
    # off by default: block 0 then sees the embedded input as the core FF's first layer does (the
    # raw pixels carry no goodness to pass on); the paper normalises every block's input (preset intff-paper)
    intff_normalize_first: bool = option(False, "also length-normalise block 0's input (the embedded image), as the paper does for every block")
