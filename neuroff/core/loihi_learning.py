"""Loihi 2's learning engine running the neo-Hebbian FF rule, bit for bit as Lava simulates it.

The rule (per layer, ``Loihi3FLearningRule`` on a ``LearningDense``, ``t_epoch = 1``)::

    dw = m 2^e x0 y1 y2  -  m 2^e x0 y1 y3          (Lava string: "m*2^e*x0*y1*y2 - m*2^e*x0*y1*y3")

with x0 the presynaptic spike of this step, y1 = z the postsynaptic 7-bit trace that the neuron
writes, and the third factor M in two unsigned 7-bit channels, y2 = max(Mq, 0), y3 = max(-Mq, 0)
(a signed y2 is zeroed in fixed point when a back-propagating action potential is connected, so
the sign travels as two channels). Mq is M = s - sigmoid(alpha (G - theta)) quantised as it is
sent, G the layer's goodness measured by the modulator over the steps before ``learn_start``.

What one learning step does to a weight w of a synapse whose input spiked (Lava 0.10,
``lava/magma/core/model/py/connection.py`` ``LearningConnectionModelBitApproximate`` and
``lava/magma/core/learning/learning_rule_applier.py`` ``LearningRuleApplierBitApprox``)::

    y'    = floor(Y_DECAY y) + [r_y < frac(Y_DECAY y)]        each y "decays" by exp(-1/65535)
    p_k   = clip_acc( ((y1' yk' mant_k) >> PRODUCT_SHIFT) << (e + 7) )      k = 2 (+m), 3 (-m)
    acc   = clip_acc( clip_acc(w << WEIGHT_SHIFT + p_2) + p_3 )
    w     = clip_w( floor(acc / ROUND_UNIT) + [r_w < frac(acc / ROUND_UNIT)] )

r_y and r_w are uniform draws that Lava shares by every synapse of the connection in that step
(its ``TraceRandom`` and ``ConnVarRandom`` streams, numpy PCG64); ``random_streams`` reproduces
them. The network around the synapses (``lava/proc/dense/models.py``, the custom neuron and
modulator processes in ``hardware/neuroff_lava/learning_procs.py``), per Lava step tau of a
presentation of T steps::

    neuron  : a = a_buf (0 at tau = 0, when u, v, z reset);  a_buf = W s_pre[tau]  (Dense's one-step delay)
              (s, u, v) = CUBA step (neuroff.core.loihi_neurons);  z = min(127, (z (4096 - dz)) >> 12 + imp s)
              y1 = z;  (y2, y3) = the channels of the Mq the modulator sent this step
    modulator (sends, then receives s): g += sum z^2 for tau < learn_start;
              M_TIMING "window": at tau = learn_start - 1  Mq = MOD_TABLE(s_label, g)  (one M per presentation)
              M_TIMING "step":   at learn_start - 1 <= tau < T - 1  Mq = MOD_TABLE(s_label, sum z^2 of this step)
              at tau = T - 1 Mq = 0
    synapses: the learning step above, with x0 = s_pre[tau]  (weights of this step's a_buf: before it)

so M reaches the synapses on steps learn_start .. T-1: in "window" timing one M from the goodness
of the first learn_start steps; in "step" timing the goodness of the step before, as the float
rule's M, which it recomputes from the current traces every learning step (one step earlier). A
multi-layer stack is this per layer, each layer with its own modulator and goodness.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from neuroff.errors import NeuroffError

# --- Bit widths and rounding, as data. Each names the Lava 0.10 file it mirrors. ------------------
LAVA_LEARNING = "lava/magma/core/learning"
TRACE_BITS = 7  # constants.py W_TRACE: traces are unsigned 7-bit, 0..127
TRACE_MAX = (1 << TRACE_BITS) - 1
FACTOR_MIN, FACTOR_MAX = -(1 << TRACE_BITS), (1 << TRACE_BITS) - 1  # learning_rule_applier.py: factor saturation
MANT_BITS = 4  # constants.py W_S_MANT: the scaling mantissa of a product, in [-8, 7] (product_series.py)
MANT_MIN, MANT_MAX = -8, 7
EXP_MIN, EXP_MAX = -7, 8  # product_series.py: the scaling exponent lies in [-7, 9)
ACC_BITS = 15  # constants.py W_ACCUMULATOR_U: the synaptic-variable accumulator
ACC_MIN, ACC_MAX = -(1 << ACC_BITS) - 1, (1 << ACC_BITS) - 1  # learning_rule_applier.py saturation bounds
PRODUCT_SHIFT = 2 * TRACE_BITS + MANT_BITS - ACC_BITS  # = 3: y1 y2 mant (18 bits) right-shifted back to 15
WEIGHT_SHIFT = (ACC_BITS + 1) - (8 + 1)  # = 7: W_ACCUMULATOR_S - W_WEIGHTS_S (connection.py _apply_learning_rules)
ROUND_BITS = ACC_BITS - 8  # = 7: rounding unit 2^(W_ACCUMULATOR_U - W_WEIGHTS_U) (connection.py stochastic rounding)
ROUND_UNIT = 1 << ROUND_BITS
LEARN_WEIGHT_MIN, LEARN_WEIGHT_MAX = -256, 255  # lava/utils/weightutils.py clip_weights(num_bits=8, MIXED)
Y_TAU = 65535  # learning_rule.py Loihi3FLearningRule: y1..y3 tau = iinfo(uint16).max
Y_SEED_OFFSET = 2  # connection.py _init_randoms: the y traces' TraceRandom(rng_seed + 2, rng_seed + 3)
CONN_RANDOM_SEED = 2  # random.py ConnVarRandom(): its default seed (Lava passes none)
Y_DRAWS_PER_STEP = 2  # connection.py recv_traces: the trace randoms advance twice per step
TRACE_DECAY_BITS = 12  # the neuron-side trace z decays like u and v: z (4096 - dz) >> 12 (floor, z >= 0)


def y_decay_factor() -> float:
    """exp(-1 / 65535), computed as Lava's ``_decay_trace`` computes it (numpy, on a (3, 1) array)."""
    return float(np.exp(-1 / np.full((3, 1), Y_TAU))[0, 0])


class RuleParams(NamedTuple):
    """The learning-engine rule: mantissa and exponent of its scaling, the rng seed of the rule."""

    mant: int = 1
    exp: int = -7
    rng_seed: int = 1234

    def lava_string(self) -> str:
        """The dw string of ``Loihi3FLearningRule``."""
        return f"{self.mant}*2^{self.exp}*x0*y1*y2 - {self.mant}*2^{self.exp}*x0*y1*y3"


class TraceParams(NamedTuple):
    """The neuron-side 7-bit trace z: decay dz (12-bit, z *= (4096 - dz) / 4096, floor) and impulse."""

    dz: int
    impulse: int


def check_rule(rule: RuleParams, trace: TraceParams, m_scale: int) -> None:
    """One-line NeuroffError naming the option the learning engine cannot express."""
    if not 1 <= rule.mant <= MANT_MAX:
        raise NeuroffError(f"--onchip-lr-mantissa {rule.mant}: the learning engine's scaling mantissa is {MANT_BITS}-bit signed; use 1..{MANT_MAX}")
    if not EXP_MIN <= rule.exp <= EXP_MAX:
        raise NeuroffError(f"--onchip-lr-exponent {rule.exp}: the learning engine's scaling exponent lies in [{EXP_MIN}, {EXP_MAX}]")
    if not 1 <= m_scale <= TRACE_MAX:
        raise NeuroffError(f"--onchip-m-scale {m_scale}: the third factor travels as a {TRACE_BITS}-bit trace; use 1..{TRACE_MAX}")
    if not 0 <= trace.dz < 1 << TRACE_DECAY_BITS:
        raise NeuroffError(f"--trace-decay maps to dz={trace.dz}, not a {TRACE_DECAY_BITS}-bit decay; use a decay in (0, 1]")
    if not 1 <= trace.impulse <= TRACE_MAX:
        raise NeuroffError(f"the trace impulse {trace.impulse} must be 1..{TRACE_MAX} (a {TRACE_BITS}-bit trace); use a --trace-decay below 1")


def learning_weights_fit(w: np.ndarray) -> bool:
    """Whether the learning synapses can hold these integer weights: all in [-256, 255]."""
    return not w.size or (w.min() >= LEARN_WEIGHT_MIN and w.max() <= LEARN_WEIGHT_MAX)


def check_learning_weights(w: np.ndarray) -> None:
    """Weights the learning engine can hold: integers in [-256, 255]."""
    if not learning_weights_fit(w):
        raise NeuroffError(
            f"weights span [{int(w.min())}, {int(w.max())}]; Loihi's learning synapses hold integers in "
            f"[{LEARN_WEIGHT_MIN}, {LEARN_WEIGHT_MAX}] (lower --onchip-vth, or retrain)"
        )


# --- The third factor the modulator sends: a comparator ladder on the integer goodness -------------
def m_quantised(g: int, positive: bool, alpha: float, theta: float, window: int, m_scale: int) -> int:
    """Mq = round(m_scale (s - sigmoid(alpha (G - theta)))), G = g / (127^2 window): the mean over the
    measuring window of sum_j (z_j / 127)^2, in the float trace's units (z_float ~ z / 127)."""
    big_g = g / (TRACE_MAX * TRACE_MAX * window)
    p = 1.0 / (1.0 + np.exp(-alpha * (big_g - theta)))
    return int(np.floor(m_scale * ((1.0 if positive else 0.0) - p) + 0.5))


def modulator_table(alpha: float, theta: float, window: int, n: int, m_scale: int) -> np.ndarray:
    """bounds [m_scale + 1] int64 such that Mq(positive, g) = #{k >= 1 : g < bounds[k]} and
    Mq(negative, g) = that - bounds[0] (bounds[0] = m_scale). Both the emulator and the Lava
    modulator read Mq from this table (integer comparisons), so M is computed once, here."""
    g_max = window * n * TRACE_MAX * TRACE_MAX
    bounds = np.zeros(m_scale + 1, np.int64)
    bounds[0] = m_scale
    for k in range(1, m_scale + 1):
        # smallest g with Mq_pos(g) < k (Mq_pos is non-increasing in g); g_max + 1 if none
        lo, hi = 0, g_max + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if m_quantised(mid, True, alpha, theta, window, m_scale) < k:
                hi = mid
            else:
                lo = mid + 1
        bounds[k] = lo
    return bounds


@njit(cache=True)
def table_m(bounds, positive, g):
    q = 0
    for k in range(1, bounds.shape[0]):
        if g < bounds[k]:
            q += 1
    return q if positive else q - bounds[0]


# --- Lava's random streams ---------------------------------------------------------------------------
class RandomStreams:
    """The per-step uniforms Lava's learning connection draws: r_y (trace decay rounding) and r_w
    (weight rounding). Held as numpy Generators so training can continue them chunk by chunk (and
    a checkpoint can store them); ``take(n)`` returns the values of the next n Lava steps."""

    def __init__(self, rng_seed: int) -> None:
        self.y = np.random.default_rng(rng_seed + Y_SEED_OFFSET)
        self.w = np.random.default_rng(CONN_RANDOM_SEED)
        self.y.random(1)  # the value drawn in TraceRandom.__init__, replaced before its first use
        self.w.random(1)  # likewise ConnVarRandom.__init__

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        r_y = self.y.random(Y_DRAWS_PER_STEP * n)[Y_DRAWS_PER_STEP - 1 :: Y_DRAWS_PER_STEP]
        return np.ascontiguousarray(r_y), self.w.random(n)

    def state(self) -> dict:
        return {"y": self.y.bit_generator.state, "w": self.w.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.y.bit_generator.state = state["y"]
        self.w.bit_generator.state = state["w"]


class OnChipNet(NamedTuple):
    """Everything the learning network holds besides its weights (integer parameters per layer)."""

    du: int
    dv: int
    vth: int
    trace: TraceParams
    rule: RuleParams
    steps: int
    learn_start: int
    tables: list  # per layer: the modulator's bounds (``modulator_table`` over ``modulator_window`` steps)
    m_timing: str = "window"  # neuroff.core.params.M_TIMINGS: when the modulator computes M

    @property
    def m_every_step(self) -> bool:
        return self.m_timing == "step"


def modulator_window(m_timing: str, learn_start: int) -> int:
    """Steps the goodness that sets M is summed over (the window of its ``modulator_table``):
    learn_start, or 1 when M follows every step."""
    return 1 if m_timing == "step" else learn_start


# --- The emulator ------------------------------------------------------------------------------------
@njit(cache=True)
def _decay24(x, d):
    # T0(x (4096 - d)) = sign * (|.| >> 12) (neuroff.core.loihi_neurons.decay)
    if d == 4096:
        return 0
    y = x * (4096 - d)
    return -((-y) >> 12) if y < 0 else y >> 12


@njit(cache=True)
def _y_dec(y, ydecay, r):
    v = ydecay * y
    fl = np.floor(v)
    return int(fl) + (1 if r < v % 1.0 else 0)


@njit(cache=True)
def _clip(x, lo, hi):
    return lo if x < lo else (min(x, hi))


@njit(cache=True)
def emulate(
    spikes,  # uint8 [P, T, D0]: the input spike trains of P presentations
    positive,  # uint8 [P]: the label s of each presentation (1 positive, 0 negative)
    wflat,  # int16 [sum D_l N_l]: every layer's weights [D_l, N_l] (input-major), flat; changed in place
    dims,  # int64 [L, 3]: D_l, N_l, offset of layer l in wflat (flat arrays, not typed Lists: those cost
    #        numba tens of seconds of compilation per process, uncached)
    du, dv, vth, dz, z_imp, mant, exp_, learn_start,
    m_every_step,  # 1: M from each step's goodness (M_TIMING "step"), 0: once from the window's
    tables,  # int64 [L, m_scale + 1]: the modulator's bounds per layer
    r_y, r_w,  # float64 [P * T]: Lava's per-step uniforms
    ydecay,
    rec_spikes,  # uint8 [P, T, sum N_l] out, or [0, 0, 0] to skip
    rec_m,  # int64 [P, L] out: the last Mq each layer computed (window timing: its only one)
    rec_g,  # int64 [P, L] out: its integer goodness g
    rec_w,  # int16 [P, sum D_l N_l] out: wflat after every presentation (or [0, 0] to skip)
    max_a,  # int64 [L] out: largest |dendritic sum|
    counts,  # int64 [P, L] out: spikes per presentation and layer
):
    n_pres, steps, d0 = spikes.shape
    n_layers = dims.shape[0]
    keep = rec_spikes.shape[0] > 0
    max_n = d0
    for layer in range(n_layers):
        max_n = max(max_n, dims[layer, 1])
    active = np.empty(max_n, np.int64)
    nxt = np.empty(max_n, np.int64)
    us = np.zeros((n_layers, max_n), np.int64)
    vs = np.zeros((n_layers, max_n), np.int64)
    zs = np.zeros((n_layers, max_n), np.int64)
    bufs = np.zeros((n_layers, max_n), np.int64)
    g_acc = np.zeros(n_layers, np.int64)
    m_cur = np.zeros(n_layers, np.int64)
    vth_s = vth << 6
    lim = 1 << 23
    sh = exp_ + 7
    prod = np.empty(max_n, np.int64)
    k = 0
    for pres in range(n_pres):
        s_lab = positive[pres] > 0
        for tau in range(steps):
            ry = r_y[k]
            rw = r_w[k]
            n_active = 0
            for i in range(d0):
                if spikes[pres, tau, i]:
                    active[n_active] = i
                    n_active += 1
            off = 0
            for layer in range(n_layers):
                d_in, n, w_at = dims[layer, 0], dims[layer, 1], dims[layer, 2]
                w = wflat[w_at : w_at + d_in * n].reshape((d_in, n))
                u = us[layer]
                v = vs[layer]
                z = zs[layer]
                buf = bufs[layer]
                # what the neuron receives this step: the Dense's sum of the previous step
                if tau == 0:
                    for j in range(n):
                        u[j] = 0
                        v[j] = 0
                        z[j] = 0
                        buf[j] = 0
                    g_acc[layer] = 0
                n_next = 0
                for j in range(n):
                    a = buf[j]
                    if a > max_a[layer]:
                        max_a[layer] = a
                    elif -a > max_a[layer]:
                        max_a[layer] = -a
                    uj = _decay24(u[j], du + 1) + (a << 6)
                    if uj > lim:
                        uj -= 2 * lim
                    elif uj <= -lim:
                        uj += 2 * lim
                    vj = _clip(_decay24(v[j], dv) + uj, -lim + 1, lim - 1)
                    u[j] = uj
                    fire = vj > vth_s
                    v[j] = 0 if fire else vj
                    zj = ((z[j] * (4096 - dz)) >> 12) + (z_imp if fire else 0)
                    z[j] = min(127, zj)
                    if fire:
                        nxt[n_next] = j
                        n_next += 1
                        if keep:
                            rec_spikes[pres, tau, off + j] = 1
                counts[pres, layer] += n_next
                # the third factor the neuron received this step (sent by the modulator at its start)
                m = m_cur[layer]
                # modulator: receives this step's spikes, keeps the same z; sets M at learn_start - 1
                # and, in the step timing, on every later step but the last
                sets_m = tau == learn_start - 1 or (m_every_step and learn_start - 1 < tau < steps - 1)
                if tau < learn_start or sets_m:
                    gs = 0
                    for j in range(n):
                        gs += z[j] * z[j]
                    if tau < learn_start:
                        g_acc[layer] += gs
                    if sets_m:
                        m_cur[layer] = table_m(tables[layer], s_lab, gs if m_every_step else g_acc[layer])
                        rec_m[pres, layer] = m_cur[layer]
                        rec_g[pres, layer] = g_acc[layer]
                if tau == steps - 1:
                    m_cur[layer] = 0
                for j in range(n):
                    buf[j] = 0
                if m == 0:
                    # the Dense's sum for the next step; no synapse changes (y2 = y3 = 0)
                    for kk in range(n_active):
                        i = active[kk]
                        for j in range(n):
                            buf[j] += w[i, j]
                else:
                    # the learning engine: only synapses whose input spiked (x0) change. One of
                    # y2, y3 is 0, so one product is 0 and acc = clip(w << 7 + p_j) exactly.
                    y2d = _clip(_y_dec(max(0, m), ydecay, ry), FACTOR_MIN, FACTOR_MAX)
                    y3d = _clip(_y_dec(-m if m < 0 else 0, ydecay, ry), FACTOR_MIN, FACTOR_MAX)
                    for j in range(n):  # the products depend on the neuron only
                        y1d = _clip(_y_dec(z[j], ydecay, ry), FACTOR_MIN, FACTOR_MAX)
                        p2 = _clip(((y1d * y2d * mant) >> PRODUCT_SHIFT) << sh, ACC_MIN, ACC_MAX)
                        p3 = _clip(((y1d * y3d * (-mant)) >> PRODUCT_SHIFT) << sh, ACC_MIN, ACC_MAX)
                        prod[j] = p2 + p3
                    # stochastic rounding of acc / 128: floor + [r_w < frac], frac = (acc & 127) / 128
                    # exactly, so [r_w < frac] = [(acc & 127) > floor(128 r_w)] in integers
                    thr = int(np.floor(rw * ROUND_UNIT))
                    for kk in range(n_active):
                        i = active[kk]
                        for j in range(n):
                            wij = np.int64(w[i, j])
                            buf[j] += wij  # the Dense's sum uses the weights before this step's learning
                            acc = min(max((wij << WEIGHT_SHIFT) + prod[j], ACC_MIN), ACC_MAX)
                            wn = (acc >> ROUND_BITS) + ((acc & (ROUND_UNIT - 1)) > thr)
                            w[i, j] = min(max(wn, LEARN_WEIGHT_MIN), LEARN_WEIGHT_MAX)
                n_active = n_next
                for kk in range(n_next):
                    active[kk] = nxt[kk]
                off += n
            k += 1
        if rec_w.shape[0] > 0:
            rec_w[pres] = wflat


class EmulatorResult(NamedTuple):
    m: np.ndarray  # int64 [P, L]
    g: np.ndarray  # int64 [P, L]
    counts: np.ndarray  # int64 [P, L]
    max_a: np.ndarray  # int64 [L]
    spikes: np.ndarray | None  # uint8 [P, T, sum N_l]
    weights: list | None  # per layer int64 [P, N_l, D_l] after every presentation


def run_emulator(
    net: OnChipNet,
    weights: list[np.ndarray],
    spikes: np.ndarray,
    positive: np.ndarray,
    streams: RandomStreams,
    record: bool = False,
) -> EmulatorResult:
    """Run presentations ``spikes`` uint8 [P, T, D0] with labels ``positive`` [P] through the learning
    network; ``weights`` (int64 [N_l, D_l] per layer, torch order) are updated in place."""
    n_pres, steps, _ = spikes.shape
    if steps != net.steps:
        raise NeuroffError(f"presentations have {steps} steps, the network {net.steps}")
    r_y, r_w = streams.take(n_pres * steps)
    sizes = [int(w.shape[0]) for w in weights]
    n_layers = len(weights)
    dims = np.zeros((n_layers, 3), np.int64)
    at = 0
    for i, w in enumerate(weights):
        dims[i] = (w.shape[1], w.shape[0], at)
        at += w.size
    wflat = np.concatenate([np.ascontiguousarray(w.T, dtype=np.int16).ravel() for w in weights])
    rec_spikes = np.zeros((n_pres, steps, sum(sizes)) if record else (0, 0, 0), np.uint8)
    rec_w = np.zeros((n_pres, at) if record else (0, 0), np.int16)
    out_m = np.zeros((n_pres, n_layers), np.int64)
    out_g = np.zeros((n_pres, n_layers), np.int64)
    counts = np.zeros((n_pres, n_layers), np.int64)
    max_a = np.zeros(n_layers, np.int64)
    emulate(
        np.ascontiguousarray(spikes, dtype=np.uint8), np.asarray(positive, np.uint8), wflat, dims, net.du, net.dv, net.vth,
        net.trace.dz, net.trace.impulse, net.rule.mant, net.rule.exp, net.learn_start, int(net.m_every_step),
        np.stack([np.asarray(t, np.int64) for t in net.tables]), r_y, r_w, y_decay_factor(),
        rec_spikes, out_m, out_g, rec_w, max_a, counts,
    )  # fmt: skip

    def layer(flat: np.ndarray, i: int) -> np.ndarray:  # [..., D*N] -> [..., N, D] int64 (torch order)
        d, n, o = dims[i]
        return np.swapaxes(flat[..., o : o + d * n].reshape(*flat.shape[:-1], d, n), -1, -2).astype(np.int64)

    for i, w in enumerate(weights):
        w[...] = layer(wflat, i)
    return EmulatorResult(
        out_m, out_g, counts, max_a, rec_spikes if record else None,
        [layer(rec_w, i) for i in range(n_layers)] if record else None,
    )  # fmt: skip
