"""Loihi's fixed-point current-based LIF (CUBA) neuron and dense synapse, bit for bit.

This is the arithmetic of Lava's bit-accurate models (``lava/proc/lif/models.py``,
``AbstractPyLifModelFixed`` / ``PyLifModelBitAcc`` / ``PyLifResetModelBitAcc``, and
``lava/proc/dense/models.py``, ``AbstractPyDenseModelBitAcc``, lava-nc 0.10.0), which
``Loihi2SimCfg(select_tag='fixed_pt')`` runs. Every state is an integer (int64 tensors here);
all bit widths are the named constants below.

One step, with T0(x) = sign(x) * floor(|x| / 4096) (a 12-bit decay that rounds toward zero)::

    a[t] = sum_j w_j s_j[t]                              dendritic sum of 8-bit weights
    u[t] = wrap24( T0(u[t-1] * (4096 - du_eff)) + (a[t] << 6) ),   du_eff = du + 1
    v[t] = clip24( T0(v[t-1] * (4096 - dv)) + u[t] + (bias_mant << bias_exp) )
    s[t] = v[t] > (vth << 6);   v[t] = 0 where s[t]        (u is not reset)

``du_eff = du + 1`` is Loihi's ``ds_offset`` register: it lets the current decay reach 4096, a
current that does not persist (netx writes ``iDecay = du + 1``, so iDecay = 4096 gives it).
With du_eff = 4096, no bias and dv = round(4096 (1 - beta)) the step is neuroff's LIF
(``neuroff.core.neurons``) with I = a and reset to zero, in units of 1/64 of a weight step.

Time alignment. On Lava each Dense synapse delivers its sum one step late (``a_out`` sends the
buffer computed at t - 1), so layer l of a feed-forward stack sees presentation step tau at
simulator step tau + l + 1. A neuron at rest with no input and no bias stays at rest, so the
delay is a pure shift: this module computes in *aligned* time (layer l fires at tau) and the
Lava runner shifts its rasters back by l + 1. See docs/hardware.md.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuroff.errors import NeuroffError

DECAY_BITS = 12  # du, dv are unsigned 12-bit; decays are multiplied by (2**12 - d) >> 12
DECAY_UNITY = 1 << DECAY_BITS
STATE_BITS = 24  # u and v are signed 24-bit registers
STATE_LIMIT = 1 << (STATE_BITS - 1)  # 2**23
ACT_SHIFT = 6  # the dendritic sum is MSB-aligned into u by << 6
VTH_SHIFT = 6  # so is the threshold mantissa
VTH_BITS = 17  # vth is unsigned 17-bit (0 .. 131071)
WEIGHT_BITS = 8  # synaptic weight mantissa, signed in mixed-sign mode
# Mixed-sign weights: an 8-bit signed mantissa m in [-128, 127] is applied as 2m, so the usable
# weights are the even integers in [-256, 254] (Lava truncates the lowest bit of odd weights).
WEIGHT_MIN, WEIGHT_MAX, WEIGHT_STEP = -256, 254, 2
BIAS_MANT_BITS = 13  # signed
BIAS_EXP_BITS = 3  # unsigned
DENDRITE_BITS = 16  # the hardware's dendritic accumulator / a_in port width (Lava's Python
# simulator does not bound it; `dense_activation` callers report the largest |a| they saw)


class CubaParams(NamedTuple):
    """Integer parameters of one CUBA population (scalars shared by the layer)."""

    du: int = DECAY_UNITY - 1  # current decay register; du_eff = du + 1 (4096: no persistence)
    dv: int = 614  # voltage decay: v *= (4096 - dv) / 4096 per step (614 -> 0.8501)
    vth: int = 64  # threshold mantissa; the comparison is against vth << 6
    bias_mant: int = 0
    bias_exp: int = 0


class CubaState(NamedTuple):
    u: torch.Tensor  # int64, the 24-bit current register
    v: torch.Tensor  # int64, the 24-bit voltage register


def check_cuba_params(p: CubaParams) -> None:
    """Raise a NeuroffError for values the hardware registers cannot hold."""
    if not 0 <= p.du < DECAY_UNITY or not 0 <= p.dv < DECAY_UNITY:
        raise NeuroffError(f"decays du={p.du}, dv={p.dv} must be unsigned {DECAY_BITS}-bit (0..{DECAY_UNITY - 1})")
    if not 0 <= p.vth < 1 << VTH_BITS:
        raise NeuroffError(f"threshold mantissa vth={p.vth} must be unsigned {VTH_BITS}-bit (0..{(1 << VTH_BITS) - 1})")
    half = 1 << (BIAS_MANT_BITS - 1)
    if not -half <= p.bias_mant < half or not 0 <= p.bias_exp < 1 << BIAS_EXP_BITS:
        raise NeuroffError(f"bias {p.bias_mant} << {p.bias_exp} does not fit the 13-bit mantissa / 3-bit exponent")


def cuba_initial_state(shape: tuple[int, ...]) -> CubaState:
    zeros = torch.zeros(shape, dtype=torch.int64)
    return CubaState(zeros, zeros.clone())


def decay(x: torch.Tensor, d: int) -> torch.Tensor:
    """T0(x * (4096 - d)): Loihi's 12-bit multiplicative decay, rounded toward zero
    (Lava: ``sign(x) * (|x * (4096 - d)| >> 12)``)."""
    if d == DECAY_UNITY:  # nothing persists (the usual current decay): skip the arithmetic
        return torch.zeros_like(x)
    # integer division truncating toward zero is exactly sign(y) * (|y| >> 12)
    return torch.div(x * (DECAY_UNITY - d), DECAY_UNITY, rounding_mode="trunc")


def wrap24(x: torch.Tensor) -> torch.Tensor:
    """The current register's overflow: one wrap by 2**24, exactly as Lava's
    ``subthr_dynamics`` does it (x > 2**23 -> x - 2**24; x <= -2**23 -> x + 2**24)."""
    if not ((x > STATE_LIMIT) | (x <= -STATE_LIMIT)).any():  # the usual case: nothing to wrap
        return x
    x = torch.where(x > STATE_LIMIT, x - 2 * STATE_LIMIT, x)
    return torch.where(x <= -STATE_LIMIT, x + 2 * STATE_LIMIT, x)


def clip24(x: torch.Tensor) -> torch.Tensor:
    """The voltage register saturates (unlike u, which wraps) at +-(2**23 - 1)."""
    return x.clamp(-STATE_LIMIT + 1, STATE_LIMIT - 1)


def cuba_step(a: torch.Tensor, state: CubaState, p: CubaParams) -> tuple[torch.Tensor, CubaState]:
    """Advance a CUBA population by one step given its integer dendritic sum ``a``;
    returns (spikes s[t] as int64 0/1, new state with v already reset)."""
    drive = a << ACT_SHIFT
    u = wrap24(drive if p.du + 1 == DECAY_UNITY else decay(state.u, p.du + 1) + drive)
    bias = p.bias_mant << p.bias_exp
    v = clip24(decay(state.v, p.dv) + u + bias if bias else decay(state.v, p.dv) + u)
    spikes = v > (p.vth << VTH_SHIFT)
    return spikes.to(torch.int64), CubaState(u, v.masked_fill(spikes, 0))


def dense_activation(weights: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
    """a = spikes @ W^T for binary spikes [..., D] and integer weights [N, D] -> int64 [..., N].

    Computed in floating point, which is exact: every partial sum is an integer of magnitude
    <= D * 256, below 2**24 (float32's exact-integer range) for D < 65,536, else float64 (2**53).
    """
    dtype = torch.float32 if weights.shape[1] * 256 < 1 << 24 else torch.float64
    return (spikes.to(dtype) @ weights.to(dtype).T).to(torch.int64)


def check_weights(weights: torch.Tensor) -> None:
    """Raise unless every weight is an even integer in [-256, 254] (what Loihi applies exactly)."""
    if weights.is_floating_point() and not torch.equal(weights.round(), weights):
        raise NeuroffError("fixed-point weights must be integers; quantise the network first")
    w = weights.to(torch.int64)
    if (w < WEIGHT_MIN).any() or (w > WEIGHT_MAX).any():
        raise NeuroffError(f"fixed-point weights must lie in [{WEIGHT_MIN}, {WEIGHT_MAX}]; lower the weight scale")
    if (w % WEIGHT_STEP != 0).any():
        raise NeuroffError("mixed-sign Loihi weights must be even integers (the lowest bit is truncated)")
