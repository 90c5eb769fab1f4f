"""Fused batch-size-1 online neo-Hebbian training of a spiking FF stack (numba).

This is a fast realisation of equations that are written, and documented, elsewhere:
the LIF step and traces in ``neuroff.core.neurons``, the third factor in ``neuroff.core.goodness``, the
eligibility and presynaptic traces in ``neuroff.core.plasticity``. ``tests/test_online_kernel.py`` checks that
it gives the same spikes and weights as that torch reference run with batch size 1.

Why a kernel: online learning changes the weights inside a presentation, so every step of every
sample is a tiny sequential computation; torch spends ~6 us of dispatch per operation on
vectors of 200, which caps online training near 100 samples/s. Two further savings:

- input spikes are binary and sparse, so the input current sums only the active rows of W
  (stored [in, out] so a row is contiguous) and the update touches only those rows;
- the eligibility trace E <- (1 - tau) E + tau dW, W <- W + nu E is dense in time (E keeps
  decaying over every learning step of every sample). It is kept lazily as
  E = e * Ehat and W = What + w * Ehat with scalars e, w, so one learning step costs
  O(active rows) instead of O(size of W); the scalars are folded back into the matrices when e
  becomes small (every ~130 learning steps).
- with a presynaptic trace (``pre_decay`` > 0) the Hebbian term reads x̄ instead of the spikes:
  the update touches the rows of every input that has spiked so far in the presentation (kept
  as a list per layer), each weighted by its x̄; the input current still sums active rows only.
- with the direct encoder the first layer's input is graded (the intensities, every step): its
  active rows are the nonzero inputs, each weighted by its value in the current and the Hebbian
  term. Its input is the same vector x at every step, so each update is x times a vector: on the
  sparse path with a lazy eligibility (tau < 1) and no presynaptic trace ("deferred"), the kernel
  keeps the sum of those vectors pending, reads the current W x in O(N) per step from W x at the
  presentation's start, and writes x times the pending vectors into W once per presentation (and
  before a fold); with a trace, tau = 1 or the dense path it sums the nonzero rows every step.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.typed import List

FOLD_BELOW = 1e-6

RESET_CODES = {"zero": 0, "subtract": 1}
TRACE_CODES = {"count": 0, "leaky": 1, "hard-leaky": 2}
HEAD_CODES = {"sigma": 0, "sym": 1}


@njit(cache=True, inline="always")
def _uniform(state):
    """xorshift64* (Vigna 2016): a uniform draw in [0, 1) from the top 53 bits. ~15x cheaper
    than numba's np.random.random here, which made the Bernoulli draws the kernel's largest cost."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _fold(w_hat, e_hat, scal):
    # scal = [e, w]; afterwards W = w_hat and E = e_hat exactly
    w_hat += scal[1] * e_hat
    e_hat *= scal[0]
    scal[0] = 1.0
    scal[1] = 0.0


@njit(cache=True, inline="always")
def _input_value(graded_rows, active_x, k):
    """The input of active row k this step: its graded value (the direct encoder) or 1 (a spike)."""
    return active_x[k] if graded_rows else 1.0


@njit(cache=True, inline="always")
def _hebbian_x(traced, graded_rows, xb, active_x, rows, k):
    """The presynaptic factor of Hebbian row k: its trace x̄, or its input value this step."""
    if traced:
        return xb[rows[k]]
    return _input_value(graded_rows, active_x, k)


@njit(cache=True)
def _write_pending(w_hat, e_hat, rows, x, n_rows, pend_w, pend_e):
    # What <- What - x pend_w^T, Ehat <- Ehat + x pend_e^T on the nonzero rows of x
    n = w_hat.shape[1]
    for k in range(n_rows):
        i = rows[k]
        xi = x[i]
        for j in range(n):
            w_hat[i, j] -= xi * pend_w[j]
            e_hat[i, j] += xi * pend_e[j]


@njit(cache=True)
def fold_all(w_hats, e_hats, scalars):
    for layer in range(len(w_hats)):
        _fold(w_hats[layer], e_hats[layer], scalars[layer])


@njit(cache=True)
def train_online(
    spikes,  # uint8 [P, T, D0]: given spike trains, or [0, 0, 0] to draw Bernoulli from ``rates``
    rates,  # float64 [P, D0]: per-step firing probability (used when spikes is empty)
    graded,  # float64 [P, D0]: a constant graded input per presentation (the direct encoder), or [0, 0]
    steps,  # time steps per presentation when drawing
    seed,  # seeds the kernel's xorshift64* generator for the Bernoulli draws (non-zero)
    record,  # uint8 [P, T, D0] out: the drawn spikes (or [0, 0, 0] to skip recording)
    is_positive,  # uint8 [P]
    w_hats,  # list of float64 [D_l, N_l]
    e_hats,  # list of float64 [D_l, N_l]
    scalars,  # list of float64 [2]: (e, w) per layer
    learn_start,
    beta,
    threshold,
    reset_code,
    refractory_steps,
    trace_code,
    lam,
    head_code,
    alpha,
    theta,
    eps,
    lr,
    tau,
    nu,
    pre_decay,  # presynaptic trace decay per step; 0: the Hebbian term reads the spikes themselves
    activity,  # list of float64 [N_l]: running activities a_j of the homeostatic term (updated in place)
    homeo_rate,  # h of dW_ij += h (rho - a_j) x_i (neuroff.core.plasticity.homeostatic_delta); 0: off
    homeo_target,  # rho
    homeo_tau,  # a_j <- a_j + tau (fired_j - a_j) after each presentation
    sparse,
    p_last,  # out: float64 [P, L], P(positive) at the last step per layer
    layer_inputs,  # list of uint8 [P, T, D_l] out: every layer's presynaptic spikes (or [0, 0, 0] each to skip)
):
    use_graded = graded.shape[0] > 0
    draw = spikes.shape[0] == 0 and not use_graded
    keep = record.shape[0] > 0
    keep_inputs = layer_inputs[0].shape[0] > 0
    if draw:
        n_pres, d0 = rates.shape
        n_steps = steps
    elif use_graded:
        n_pres, d0 = graded.shape
        n_steps = steps
    else:
        n_pres, n_steps, d0 = spikes.shape
    n_layers = len(w_hats)
    max_n = d0
    for layer in range(n_layers):
        if w_hats[layer].shape[1] > max_n:
            max_n = w_hats[layer].shape[1]
    active = np.empty(max_n, np.int64)
    active_x = np.ones(max_n)  # the first layer's input values on the active rows (1 for spikes)
    next_active = np.empty(max_n, np.int64)
    vs = List()
    prev = List()
    refr = List()
    zs = List()
    fired = List()  # per layer: 1 where a neuron has spiked in this presentation (homeostasis)
    homeo = homeo_rate > 0.0
    for layer in range(n_layers):
        n = w_hats[layer].shape[1]
        fired.append(np.zeros(n, np.uint8))
        vs.append(np.zeros(n))
        prev.append(np.zeros(n))
        refr.append(np.zeros(n))
        zs.append(np.zeros(n))
    # presynaptic traces x̄ per layer input, and the rows that have spiked this presentation
    traced = pre_decay > 0.0
    xbars = List()
    touched = List()
    is_touched = List()
    for layer in range(n_layers):
        d_in = w_hats[layer].shape[0]
        xbars.append(np.zeros(d_in))
        touched.append(np.empty(d_in, np.int64))
        is_touched.append(np.zeros(d_in, np.uint8))
    n_touched = np.zeros(n_layers, np.int64)
    decay = 1.0 - tau
    memoryless = decay <= 0.0
    # memoryless eligibility (tau = 1): E is just tau * dW of the last learning step; remember that step's
    # active rows and post vector per layer and write E once at the end, not every step
    last_n = np.full(n_layers, -1, np.int64)
    last_rows = np.empty((n_layers, max_n), np.int64)
    last_post = np.empty((n_layers, max_n))
    last_x = np.ones((n_layers, max_n))  # x̄ of those rows (1: spikes, no trace)
    if not sparse:
        for layer in range(n_layers):
            _fold(w_hats[layer], e_hats[layer], scalars[layer])
    # the direct encoder's first layer (lazy eligibility, no trace): its input x is the same at every
    # step, so every update of a presentation is x times a vector; keep those vectors pending and the
    # current as W x = base_w - |x|^2 pend_w + w (base_e + |x|^2 pend_e), O(N) per step, and write
    # them into the nonzero rows once per presentation (or before a fold)
    deferred = use_graded and sparse and not memoryless and not traced
    n0 = w_hats[0].shape[1]
    base_w = np.zeros(n0)  # What x, Ehat x with What, Ehat as last written
    base_e = np.zeros(n0)
    pend_w = np.zeros(n0)  # What <- What - x pend_w^T, Ehat <- Ehat + x pend_e^T, not yet written
    pend_e = np.zeros(n0)
    xx = 0.0
    rng = np.empty(1, np.uint64)
    rng[0] = np.uint64(seed)
    live = np.empty(d0, np.int64)
    n_live = 0
    for pres in range(n_pres):
        s = float(is_positive[pres])
        if draw:
            n_live = 0
            for i in range(d0):
                if rates[pres, i] > 0.0:
                    live[n_live] = i
                    n_live += 1
        elif use_graded:
            n_live = 0
            for i in range(d0):
                if graded[pres, i] != 0.0:
                    live[n_live] = i
                    n_live += 1
        for layer in range(n_layers):
            vs[layer][:] = 0.0
            prev[layer][:] = 0.0
            refr[layer][:] = 0.0
            zs[layer][:] = 0.0
            fired[layer][:] = 0
            if traced:
                for k in range(n_touched[layer]):
                    xbars[layer][touched[layer][k]] = 0.0
                    is_touched[layer][touched[layer][k]] = 0
                n_touched[layer] = 0
        for t in range(n_steps):
            n_active = 0
            if draw:
                # Bernoulli rate code (neuroff.core.encoding.rate_encode); zero-rate inputs draw nothing
                for k in range(n_live):
                    i = live[k]
                    if _uniform(rng) < rates[pres, i]:
                        active[n_active] = i
                        n_active += 1
                        if keep:
                            record[pres, t, i] = 1
            elif use_graded:
                # the direct encoder: every nonzero input, every step, with its value
                for k in range(n_live):
                    i = live[k]
                    active[k] = i
                    active_x[k] = graded[pres, i]
                n_active = n_live
            else:
                for i in range(d0):
                    if spikes[pres, t, i]:
                        active[n_active] = i
                        n_active += 1
            learning = t >= learn_start
            for layer in range(n_layers):
                w_hat = w_hats[layer]
                e_hat = e_hats[layer]
                scal = scalars[layer]
                d_in, n = w_hat.shape
                v = vs[layer]
                sp = prev[layer]
                rf = refr[layer]
                z = zs[layer]
                wc = scal[1]
                graded_rows = use_graded and layer == 0  # rows carry values, not spikes
                if keep_inputs:
                    seen_in = layer_inputs[layer]
                    for k in range(n_active):
                        seen_in[pres, t, active[k]] = 1
                # input current: only the rows of active inputs (dense sum when sparse is off)
                cur = np.zeros(n)
                if deferred and graded_rows:
                    if t == 0:
                        xx = 0.0
                        base_w[:] = 0.0
                        base_e[:] = 0.0
                        pend_w[:] = 0.0
                        pend_e[:] = 0.0
                        for k in range(n_active):
                            i = active[k]
                            xk = active_x[k]
                            xx += xk * xk
                            for j in range(n):
                                base_w[j] += xk * w_hat[i, j]
                                base_e[j] += xk * e_hat[i, j]
                    for j in range(n):
                        cur[j] = base_w[j] - xx * pend_w[j] + wc * (base_e[j] + xx * pend_e[j])
                elif sparse and graded_rows:  # apart from the spike rows below: no multiply by 1 in their inner loop
                    for k in range(n_active):
                        i = active[k]
                        xk = active_x[k]
                        if memoryless:
                            for j in range(n):
                                cur[j] += xk * w_hat[i, j]
                        else:
                            for j in range(n):
                                cur[j] += xk * (w_hat[i, j] + wc * e_hat[i, j])
                elif sparse:
                    for k in range(n_active):
                        i = active[k]
                        if memoryless:
                            for j in range(n):
                                cur[j] += w_hat[i, j]
                        else:
                            for j in range(n):
                                cur[j] += w_hat[i, j] + wc * e_hat[i, j]
                else:
                    # naive dense reference for the speed comparison: x @ W over every row
                    x = np.zeros(d_in)
                    for k in range(n_active):
                        x[active[k]] = _input_value(graded_rows, active_x, k)
                    for i in range(d_in):
                        xi = x[i]
                        for j in range(n):
                            cur[j] += xi * w_hat[i, j]
                # presynaptic trace x̄ <- pre_decay * x̄ + x (neuroff.core.plasticity.pre_trace_step)
                if traced:
                    xb = xbars[layer]
                    rows = touched[layer]
                    seen = is_touched[layer]
                    for k in range(n_touched[layer]):
                        xb[rows[k]] *= pre_decay
                    for k in range(n_active):
                        i = active[k]
                        xb[i] += _input_value(graded_rows, active_x, k)
                        if seen[i] == 0:
                            seen[i] = 1
                            rows[n_touched[layer]] = i
                            n_touched[layer] += 1
                # LIF step and trace (neuroff.core.neurons.lif_step / trace_step)
                n_next = 0
                for j in range(n):
                    if reset_code == 0:
                        vj = beta * v[j] * (1.0 - sp[j]) + cur[j]
                    else:
                        vj = beta * v[j] + cur[j] - threshold * sp[j]
                    fire = 0.0
                    if refractory_steps > 0:
                        if rf[j] <= 0.0:
                            if vj > threshold:
                                fire = 1.0
                        else:
                            vj = 0.0
                        if fire > 0.0:
                            rf[j] = refractory_steps
                        else:
                            rf[j] -= 1.0
                    elif vj > threshold:
                        fire = 1.0
                    v[j] = vj
                    sp[j] = fire
                    if trace_code == 1:
                        z[j] = lam * z[j] + (1.0 - lam) * fire
                    elif trace_code == 0:
                        z[j] = z[j] + fire
                    else:
                        z[j] = fire + (1.0 - fire) * lam * z[j]
                    if fire > 0.0:
                        next_active[n_next] = j
                        n_next += 1
                        fired[layer][j] = 1
                # third factor (neuroff.core.goodness.modulation) and P(positive)
                if learning or t == n_steps - 1:
                    half = n // 2
                    if head_code == 0:
                        g = 0.0
                        for j in range(n):
                            g += z[j] * z[j]
                        p = 1.0 / (1.0 + np.exp(-alpha * (g - theta)))
                        m_pos = alpha * (s - p)
                        m_neg = m_pos
                    else:
                        gp = 0.0
                        gn = 0.0
                        for j in range(half):
                            gp += z[j] * z[j]
                        for j in range(half, n):
                            gn += z[j] * z[j]
                        total = gp + gn + 2.0 * eps
                        p = (gp + eps) / total
                        if s > 0.0:
                            m_pos = (gn + eps) / ((gp + eps) * total)
                            m_neg = -1.0 / total
                        else:
                            m_pos = -1.0 / total
                            m_neg = (gp + eps) / ((gn + eps) * total)
                    if t == n_steps - 1:
                        p_last[pres, layer] = p
                if learning:
                    post = np.empty(n)
                    for j in range(n):
                        if head_code == 1 and j >= half:
                            post[j] = lr * m_neg * z[j]
                        else:
                            post[j] = lr * m_pos * z[j]
                        if homeo:
                            post[j] += homeo_rate * (homeo_target - activity[layer][j])
                    # eligibility: E <- decay E + tau dW ; W <- W + nu E  (lazy form)
                    # the Hebbian rows: the active inputs (x = 1), or every input with a trace (x = x̄)
                    xb = xbars[layer]
                    if traced:
                        n_rows = n_touched[layer]
                        rows = touched[layer]
                    else:
                        n_rows = n_active
                        rows = active
                    if not sparse:
                        # naive dense eligibility over the whole matrix (w_hat is W, e_hat is E)
                        x = np.zeros(d_in)
                        for k in range(n_rows):
                            x[rows[k]] = _hebbian_x(traced, graded_rows, xb, active_x, rows, k)
                        for i in range(d_in):
                            for j in range(n):
                                e_hat[i, j] = decay * e_hat[i, j] + tau * x[i] * post[j]
                                w_hat[i, j] += nu * e_hat[i, j]
                    elif memoryless:
                        for k in range(n_rows):
                            i = rows[k]
                            xi = _hebbian_x(traced, graded_rows, xb, active_x, rows, k)
                            last_rows[layer, k] = i
                            last_x[layer, k] = xi
                            for j in range(n):
                                w_hat[i, j] += nu * tau * (post[j] * xi)
                        last_n[layer] = n_rows
                        last_post[layer, :n] = post
                    else:
                        if scal[0] * decay < FOLD_BELOW:
                            if deferred and graded_rows:
                                _write_pending(w_hat, e_hat, live, graded[pres], n_live, pend_w, pend_e)
                                for j in range(n):  # the bases follow the write, then the fold
                                    written_e = base_e[j] + xx * pend_e[j]
                                    base_w[j] += scal[1] * written_e - xx * pend_w[j]
                                    base_e[j] = scal[0] * written_e
                                    pend_w[j] = 0.0
                                    pend_e[j] = 0.0
                            _fold(w_hat, e_hat, scal)
                        scal[0] *= decay
                        step = tau / scal[0]
                        comp = scal[1] * step
                        if deferred and graded_rows:
                            for j in range(n):
                                pend_e[j] += step * post[j]
                                pend_w[j] += comp * post[j]
                            n_rows = 0  # written once per presentation, below
                        for k in range(n_rows):
                            i = rows[k]
                            if traced or graded_rows:
                                xi = _hebbian_x(traced, graded_rows, xb, active_x, rows, k)
                                for j in range(n):
                                    e_hat[i, j] += step * (post[j] * xi)
                                    w_hat[i, j] -= comp * (post[j] * xi)
                            else:
                                for j in range(n):
                                    e_hat[i, j] += step * post[j]
                                    w_hat[i, j] -= comp * post[j]
                        scal[1] += nu * scal[0]
                # this layer's spikes are the next layer's presynaptic activity
                n_active = n_next
                for k in range(n_next):
                    active[k] = next_active[k]
        if deferred:
            _write_pending(w_hats[0], e_hats[0], live, graded[pres], n_live, pend_w, pend_e)
        if homeo:  # neuroff.core.plasticity.activity_step
            for layer in range(n_layers):
                a = activity[layer]
                f = fired[layer]
                for j in range(a.shape[0]):
                    a[j] += homeo_tau * (f[j] - a[j])
    if sparse and memoryless:
        for layer in range(n_layers):
            if last_n[layer] < 0:
                continue  # no learning step ran: E is unchanged
            e_hat = e_hats[layer]
            n = e_hat.shape[1]
            e_hat[:, :] = 0.0
            for k in range(last_n[layer]):
                for j in range(n):
                    e_hat[last_rows[layer, k], j] = tau * (last_post[layer, j] * last_x[layer, k])


@njit(cache=True)
def active_row_sums(layer_inputs, w_hats):
    """The op-count floor of online training: the kernel's loop over the same spike rasters doing
    only the input-current sums over active rows (no LIF step, traces, third factor or update).

    ``layer_inputs[l]`` is layer l's presynaptic raster [P, T, D_l] as ``train_online`` recorded
    it. Returns a checksum (the sum of all currents) so that the work cannot be optimised away."""
    checksum = 0.0
    for layer in range(len(w_hats)):
        w = w_hats[layer]
        raster = layer_inputs[layer]
        n_pres, n_steps, d_in = raster.shape
        n = w.shape[1]
        cur = np.zeros(n)
        for pres in range(n_pres):
            for t in range(n_steps):
                cur[:] = 0.0
                for i in range(d_in):
                    if raster[pres, t, i]:
                        for j in range(n):
                            cur[j] += w[i, j]
                checksum += cur[0]
    return checksum
