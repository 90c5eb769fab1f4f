"""Options of on-chip learning (``ff --mode loihi``): the integer network and the learning-engine
rule (``neuroff.core.loihi_learning``). Plain data, no numerics, so ``--help`` stays instant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neuroff.core.params import M_TIMINGS
from neuroff.options import OptionGroup, option


@dataclass
class OnChipOptions(OptionGroup):
    title: ClassVar[str] = "on-chip learning (ff --mode loihi)"
    onchip_vth: int = option(
        1024, "threshold mantissa of the integer neurons; float weights map to integers by k = vth / --threshold, "
        "and learned weights saturate at [-256, 255]", unit="weight steps")
    onchip_lr_mantissa: int = option(1, "learning engine: mantissa m of dw = m 2^e x0 y1 (y2 - y3) (4-bit signed, 1..7)")
    onchip_lr_exponent: int = option(-7, "learning engine: exponent e of that rule (-7..8)")
    onchip_m_scale: int = option(
        16, "the third factor is sent as round(m_scale M) in two unsigned 7-bit channels (1..127): the rule's "
        "learning rate is ~ m 2^e m_scale 127 / 8 weight steps per unit of z M")
    onchip_m_timing: str = option(
        "step", "when the modulator computes M: once per presentation from the goodness summed over steps "
        "[0, --learn-start) (window), or on every step from that step's goodness, as the float rule (step)",
        choices=M_TIMINGS)
    onchip_rng_seed: int = option(1234, "rng_seed of Lava's Loihi3FLearningRule (its stochastic rounding streams)")
