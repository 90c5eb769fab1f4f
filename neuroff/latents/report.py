"""The comparison report: every metric per model, latent kind and layer, the pairwise
similarities of the models, the plots, and a short markdown table. ``compare`` is what
``neuroff compare`` runs."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from neuroff.data import Dataset
from neuroff.engine.readout import probe_predictions
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write, write_json
from neuroff.latents import metrics as M
from neuroff.latents import plots
from neuroff.latents import stats as S
from neuroff.latents.collection import (
    DEFAULT_LABEL_MODE,
    LatentSet,
    ModelLatents,
    check_label_mode,
    collect,
    save_latents,
)
from neuroff.threads import limited_threads

K_NEIGHBOURS = 5
N_RESAMPLES = 1000  # bootstrap resamples and permutations per statistic
# the seed paper's values for its spiking FF network on MNIST (measured with the label embedded)
PAPER_REFERENCE = "seed paper, spiking FF on MNIST with the label embedded: Hoyer 0.96-0.999, 5-NN separability 0.955-0.997"
PAPER_RANGES = {"hoyer": (0.96, 0.999), "knn_agreement": (0.955, 0.997)}
# every scalar metric of one layer, in report order, with its short name
SCALARS = {
    "hoyer": "Hoyer",
    "silent_fraction": "silent",
    "active_fraction": "active",
    "population_sparsity": "population sparsity",
    "lifetime_sparsity": "lifetime sparsity",
    "knn_agreement": "5-NN separability",
    "silhouette": "silhouette",
    "linear_probe_accuracy": "linear probe",
}
PAIR_SCALARS = {
    "cka": "CKA",
    "matched_correlation_mean": "matched r (all)",
    "matched_correlation_active_mean": "matched r (active)",
    "wasserstein_mean": "Wasserstein",
    "ks_mean": "KS",
}
DIFFERENCE_METRICS = ("hoyer", "silent_fraction", "knn_agreement", "linear_probe_accuracy")


def layer_statistics(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    seed: int = 0,
    silhouette_samples: int = 2000,
) -> tuple[dict[str, Any], dict[str, S.Statistic]]:
    """Every metric of one layer (test split; the linear probe trains on the training split),
    and for each scalar the statistic of resampled test-sample indices that gives it (the
    silhouette's indexes its own subsample)."""
    n = len(z_test)
    per_sample = {
        "hoyer": M.hoyer_per_sample(z_test),
        "active_fraction": M.active_fraction_per_sample(z_test),
        "population_sparsity": M.population_sparsity_per_sample(z_test),
        "knn_agreement": M.knn_agreement_per_sample(z_test, y_test, K_NEIGHBOURS),
    }
    predicted, y_te = probe_predictions(z_train, y_train, z_test, y_test, seed=seed)
    per_sample["linear_probe_accuracy"] = (predicted == y_te).astype(np.float64)
    statistics = {k: S.of_mean(v) for k, v in per_sample.items()}
    statistics["silent_fraction"] = S.of_counts(lambda w: M.weighted_neuron_statistics(z_test, w)[0], n)
    statistics["lifetime_sparsity"] = S.of_counts(lambda w: M.weighted_neuron_statistics(z_test, w)[1], n)
    sil = M.silhouette_per_sample(z_test, y_test, silhouette_samples, seed)
    statistics["silhouette"] = S.of_mean(sil)
    values = {
        "n_neurons": int(z_test.shape[1]),
        "mean_activity": float(z_test.mean()),
        "hoyer": M.hoyer(z_test),
        "silent_fraction": M.silent_fraction(z_test),
        "active_fraction": M.active_fraction(z_test),
        "population_sparsity": M.population_sparsity(z_test),
        "lifetime_sparsity": M.lifetime_sparsity(z_test),
        "knn_agreement": float(per_sample["knn_agreement"].mean()),
        "silhouette": float(sil.mean()),
        "linear_probe_accuracy": float(per_sample["linear_probe_accuracy"].mean()),
        "class_mean_activity": M.class_mean_activity(z_test, y_test, n_classes).mean(1).tolist(),
        "class_centroid_distances": M.class_centroid_distances(z_test, y_test, n_classes).tolist(),
    }
    values["n_bootstrap"] = {"silhouette": len(sil)}
    return values, statistics


def _method(key: str) -> str:
    return "basic" if key in S.BASIC_INTERVAL else "percentile"


def layer_metrics(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    seed: int = 0,
    silhouette_samples: int = 2000,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, Any]:
    """Sparsity, separability and class statistics of one layer, each scalar with its 95 %
    bootstrap interval over the test samples (``ci``)."""
    values, statistics = layer_statistics(z_train, y_train, z_test, y_test, n_classes, seed, silhouette_samples)
    return with_intervals(values, statistics, len(z_test), n_resamples, seed)


def with_intervals(values: dict[str, Any], statistics: dict[str, S.Statistic], n: int, n_resamples: int, seed: int) -> dict[str, Any]:
    """``values`` with ``ci``: every scalar's 95 % bootstrap interval over the ``n`` test samples."""
    values["ci"] = {}
    for k in SCALARS:
        lo, hi = S.bootstrap_ci(statistics[k], values["n_bootstrap"].get(k, n), n_resamples, seed, _method(k))
        bottom = -1.0 if k == "silhouette" else 0.0  # a reflected interval may cross the metric's range
        values["ci"][k] = (float(np.clip(lo, bottom, 1.0)), float(np.clip(hi, bottom, 1.0))) if np.isfinite(lo) else (lo, hi)
    return values


def pair_similarity(
    a: ModelLatents, b: ModelLatents, split: str = "test", role: str = "models", n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """CKA between every layer pair of two models (primary latent kinds), and per same-depth
    layer the matched-neuron correlation and distribution distances, each with its 95 %
    bootstrap interval, and permutation p-values: CKA against unrelated representations, the
    distances against "both have the same activity distributions"."""
    la, lb = a.layers(split), b.layers(split)
    out: dict[str, Any] = {
        "a": a.name,
        "b": b.name,
        "role": role,
        "kinds": [a.primary, b.primary],
        "cka_matrix": [[M.linear_cka(za, zb) for zb in lb] for za in la],
        "distances_normalized": True,
        "layers": [],
    }
    for i in range(min(len(la), len(lb))):
        pairs = S.MatchedPairs(la[i], lb[i])
        d = pairs.summary
        both = pairs.active
        n = len(la[i])
        layer = {
            "layer": i,
            "cka": out["cka_matrix"][i][i],
            "n_pairs": len(d["correlation"]),
            "matched_correlation_mean": float(d["correlation"].mean()),
            "n_active_pairs": int(both.sum()),
            "matched_correlation_active_mean": float(d["correlation"][both].mean()) if both.any() else float("nan"),
            "wasserstein_mean": float(d["wasserstein"].mean()),
            "wasserstein_median": float(np.median(d["wasserstein"])),
            "ks_mean": float(d["ks"].mean()),
            "ks_median": float(np.median(d["ks"])),
        }
        statistics = {
            "cka": S.cka_statistic(la[i], lb[i]),
            "matched_correlation_mean": pairs.correlation(),
            "matched_correlation_active_mean": pairs.correlation(active_only=True),
            "wasserstein_mean": pairs.distance("wasserstein"),
            "ks_mean": pairs.distance("ks"),
        }
        layer["ci"] = {k: S.bootstrap_ci(f, n, n_resamples, seed) for k, f in statistics.items()}
        layer["p_values"] = {"cka_vs_unrelated": S.cka_permutation_pvalue(la[i], lb[i], n_resamples, seed),
                             **pairs.permutation_pvalues(n_resamples, seed)}
        out["layers"].append(layer)
    return out


def comparison_plan(latents: LatentSet) -> list[tuple[ModelLatents, ModelLatents, str]]:
    """The pairs a comparison measures: every two given models ("models"); each of them with the
    other's untrained twin ("control": does training bring B closer to A than B's start?); the
    reference with the model it is a second seed of ("reference": how alike two runs of one
    learner are)."""
    models = latents.role("model")
    plan = [(a, b, "models") for j, a in enumerate(models) for b in models[j + 1 :]]
    for j, a in enumerate(models):
        for b in models[j + 1 :]:
            control = latents.control_of(b.name)
            if control is not None:
                plan.append((a, control, "control"))
    for ref in latents.role("reference"):
        plan.append((latents.model(ref.of), ref, "reference"))
    return plan


def unmatched_notes(latents: LatentSet) -> list[str]:
    """What cannot be compared between two given models of different depths or widths."""
    notes = []
    models = latents.role("model")
    for j, a in enumerate(models):
        for b in models[j + 1 :]:
            na, nb = a.n_layers, b.n_layers
            if na != nb:
                deeper, shallow = (a, b) if na > nb else (b, a)
                extra = ", ".join(f"L{i}" for i in range(min(na, nb), max(na, nb)))
                notes.append(
                    f"{deeper.name} has {deeper.n_layers} layers, {shallow.name} {shallow.n_layers}: layers {extra} of "
                    f"{deeper.name} have no same-depth counterpart (per-model metrics and the CKA matrix only)"
                )
            for i in range(min(na, nb)):
                wa, wb = a.layers()[i].shape[1], b.layers()[i].shape[1]
                if wa != wb:
                    notes.append(
                        f"layer {i}: {a.name} has {wa} neurons, {b.name} {wb}: {min(wa, wb)} neurons are matched, "
                        f"{abs(wa - wb)} of {a.name if wa > wb else b.name} have no partner"
                    )
    return notes


def build_report(
    latents: LatentSet, seed: int = 0, silhouette_samples: int = 2000, progress: bool = False, n_resamples: int = N_RESAMPLES
) -> dict[str, Any]:
    """Every metric of every model / control / reference, latent kind and layer with its 95 %
    interval, the similarity of the planned pairs with permutation p-values, paired
    differences (the verdict's evidence) and the verdict."""
    y_tr, y_te = latents.labels["train"], latents.labels["test"]
    jobs = [(m, kind, i) for m in latents.models for kind in m.kinds for i in range(len(m.kinds[kind]["test"]))]
    models: dict[str, Any] = {
        m.name: {"mode": m.mode, "role": m.role, "of": m.of, "checkpoint": m.checkpoint, "primary": m.primary, **m.info, "latents": {}}
        for m in latents.models
    }
    statistics: dict[tuple[str, int], dict[str, S.Statistic]] = {}
    for m, kind, i in tqdm(jobs, desc="metrics", unit="layer", disable=not progress, leave=False):
        z_tr, z_te = m.kinds[kind]["train"][i], m.kinds[kind]["test"][i]
        values, stats = layer_statistics(z_tr, y_tr, z_te, y_te, latents.n_classes, seed, silhouette_samples)
        with_intervals(values, stats, len(z_te), n_resamples, seed)
        if kind == m.primary:
            statistics[(m.name, i)] = stats
        models[m.name]["latents"].setdefault(kind, []).append({"layer": i, **values})
    plan = comparison_plan(latents)
    pairs = [pair_similarity(a, b, role=role, n_resamples=n_resamples, seed=seed)
             for a, b, role in tqdm(plan, desc="pairs", disable=not progress, leave=False)]
    report = {
        "dataset": latents.dataset,
        "n_classes": latents.n_classes,
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "seed": latents.seed,
        "label_mode": latents.label_mode,
        "label_embedded": latents.label_mode,
        "k_neighbours": K_NEIGHBOURS,
        "n_resamples": n_resamples,
        "confidence_level": S.CONFIDENCE,
        "models": models,
        "pairs": pairs,
        "notes": [*latents.notes, *unmatched_notes(latents)],
    }
    report["differences"] = paired_differences(latents, statistics, n_resamples, seed)
    report["verdict"] = verdict(report)
    return report


def paired_differences(
    latents: LatentSet, statistics: dict[tuple[str, int], dict[str, S.Statistic]], n_resamples: int, seed: int
) -> list[dict[str, Any]]:
    """The differences the verdict rests on, each with its paired bootstrap interval (both
    terms on the same resampled test samples): per same-depth layer of the first two models
    A, B and primary latents, for Hoyer, silent fraction, 5-NN and probe: A − B, each model −
    its untrained twin, the reference's partner − the reference (seed-to-seed); and
    CKA(A, B) − CKA(partner, reference), CKA(A, B) − CKA(A, B untrained)."""
    models = latents.role("model")
    if len(models) < 2:
        return []
    a, b = models[0], models[1]
    n = len(latents.labels["test"])
    out: list[dict[str, Any]] = []

    def add(kind: str, layer: int, metric: str, first: str, second: str, f1: S.Statistic, f2: S.Statistic) -> None:
        value = float(f1(np.arange(n)) - f2(np.arange(n)))
        # percentile for every difference: the reflected (basic) interval corrects a one-sided bias
        # of a single bounded statistic, and applied to a difference it can exclude its own estimate
        ci = S.difference_ci(f1, f2, n, n_resamples, seed, "percentile")
        out.append({"kind": kind, "layer": layer, "metric": metric, "first": first, "second": second,
                    "difference": value, "ci": list(ci), "significant": S.significant(ci)})

    refs = latents.role("reference")
    for i in range(min(a.n_layers, b.n_layers)):
        pairs_of_layer = [(a.name, b.name, "between")]
        for m in (a, b):
            c = latents.control_of(m.name)
            if c is not None and i < c.n_layers:
                pairs_of_layer.append((m.name, c.name, "training"))
        for r in refs:
            pairs_of_layer.append((r.of, r.name, "seed"))
        for first, second, kind in pairs_of_layer:
            for metric in DIFFERENCE_METRICS:
                add(kind, i, metric, first, second, statistics[(first, i)][metric], statistics[(second, i)][metric])
        cka_ab = S.cka_statistic(a.layers()[i], b.layers()[i])
        for r in refs:
            partner = latents.model(r.of)
            cka_ref = S.cka_statistic(partner.layers()[i], r.layers()[i])
            add("structure-seed", i, "cka", f"CKA({a.name}, {b.name})", f"CKA({partner.name}, {r.name})", cka_ab, cka_ref)
        control = latents.control_of(b.name)
        if control is not None:
            cka_c = S.cka_statistic(a.layers()[i], control.layers()[i])
            add("structure-training", i, "cka", f"CKA({a.name}, {b.name})", f"CKA({a.name}, {control.name})", cka_ab, cka_c)
    return out


def _find(diffs: list[dict], **match) -> dict | None:
    return next((d for d in diffs if all(d.get(k) == v for k, v in match.items())), None)


def _ci(ci) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci is not None else ""


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Whether the paper's claim (the two learners have similar sparsity, separability and
    structure) holds, per same-depth layer of the first two models, from the report's numbers:

    - *similar sparsity / separability*: the A − B difference of Hoyer / 5-NN is not
      significant, or no larger than the seed-to-seed difference of the reference; and, for
      separability, each trained model separates significantly better than its untrained twin;
    - *similar structure*: CKA(A, B) is not significantly below CKA(partner, reference), and
      significantly above CKA(A, B untrained). Without a reference only the untrained control
      can be used, which the text says.
    """
    diffs = report.get("differences", [])
    names = [n for n, m in report["models"].items() if m["role"] == "model"]
    if len(names) < 2:
        return {"layers": [], "text": "no verdict: the claim compares two models; pass two checkpoints"}
    a, b = names[:2]
    refs = [n for n, m in report["models"].items() if m["role"] == "reference"]
    layers = sorted({d["layer"] for d in diffs if d["kind"] == "between"})
    out = []
    for i in layers:
        claims = {}
        for metric in ("hoyer", "knn_agreement"):
            between = _find(diffs, kind="between", layer=i, metric=metric)
            seed = _find(diffs, kind="seed", layer=i, metric=metric)
            similar = not between["significant"] or (seed is not None and abs(between["difference"]) <= abs(seed["difference"]))
            # without a finite interval (--resamples 0, or a degenerate statistic) nothing is significant
            # either way: the claim is undetermined (None), not "similar"
            determined = _finite_ci(between["ci"])
            claim = {"difference": between["difference"], "ci": between["ci"], "significant": between["significant"],
                     "seed_difference": seed["difference"] if seed else None, "holds": bool(similar) if determined else None}
            if metric == "knn_agreement":
                trained = [_find(diffs, kind="training", layer=i, metric=metric, first=n) for n in (a, b)]
                claim["above_untrained"] = {n: (t is not None and t["significant"] and t["difference"] > 0) for n, t in zip((a, b), trained)}
                determined = determined and all(t is None or _finite_ci(t["ci"]) for t in trained)
                claim["holds"] = bool(similar and all(claim["above_untrained"].values())) if determined else None
            claims["sparsity" if metric == "hoyer" else "separability"] = claim
        seed_cka = _find(diffs, kind="structure-seed", layer=i)
        ctrl_cka = _find(diffs, kind="structure-training", layer=i)
        above_control = ctrl_cka is not None and ctrl_cka["significant"] and ctrl_cka["difference"] > 0
        not_below_seed = seed_cka is None or seed_cka["ci"][1] >= 0
        claims["structure"] = {
            "cka_minus_seed_cka": seed_cka["difference"] if seed_cka else None, "ci_seed": seed_cka["ci"] if seed_cka else None,
            "cka_minus_control_cka": ctrl_cka["difference"] if ctrl_cka else None, "ci_control": ctrl_cka["ci"] if ctrl_cka else None,
            "holds": (bool(above_control and not_below_seed and seed_cka is not None)
                      if ctrl_cka is None or _finite_ci(ctrl_cka["ci"]) else None),
        }
        verdicts = [c["holds"] for c in claims.values()]
        holds = None if None in verdicts else all(verdicts)
        out.append({"layer": i, "claims": claims, "holds": holds})
    against = f"the untrained twins and the seed reference {', '.join(refs)}" if refs else "the untrained twins only (no --reference given: what 'similar' means between two seeds is unknown, so structure cannot be judged)"
    return {"a": a, "b": b, "against": against, "layers": out}


def _finite_ci(ci: Any) -> bool:
    return ci is not None and all(isinstance(c, (int, float)) and math.isfinite(c) for c in ci)


def _similar(holds: bool | None) -> str:
    return "undetermined (no interval)" if holds is None else ("similar" if holds else "not similar")


def _fmt(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def _with_ci(value: Any, ci: Any) -> str:
    if ci is None or ci[0] is None or not all(isinstance(c, float) and math.isfinite(c) for c in ci):
        return _fmt(value)
    return f"{_fmt(value)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _p(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3f}" if v >= 0.001 else f"{v:.1e}"


ROLE_TEXT = {"model": "model", "control": "untrained control", "reference": "seed reference"}
PAIR_ROLE_TEXT = {"models": "the two learners", "control": "A vs B's untrained twin", "reference": "two seeds of one learner"}


def markdown_report(report: dict[str, Any]) -> str:
    """The mode on the first line; the models and controls; per layer a table of every scalar
    metric with its 95 % interval, the pairs with CKA, matched-neuron distances and
    permutation p-values, the paired differences; the notes; the verdict last."""
    from neuroff.latents.collection import LABEL_MODE_TEXT

    mode = report.get("label_mode", report.get("label_embedded"))
    names = list(report["models"])
    k = report["k_neighbours"]
    n_layers = max(len(m["latents"][m["primary"]]) for m in report["models"].values())
    lines = [
        f"# Latent comparison on {report['dataset']}: {LABEL_MODE_TEXT.get(mode, mode)}",
        "",
        (f"{report['n_test']} test samples (linear probe trained on {report['n_train']} training samples), seed {report['seed']}. "
         f"Brackets: 95 % bootstrap intervals over the test samples ({report.get('n_resamples', '-')} resamples; percentile, "
         f"basic for the silent fraction and lifetime sparsity of one model, percentile for every difference); p: one-sided permutation tests ({report.get('n_resamples', '-')} "
         f"permutations). {k}-NN separability = fraction of the {k} nearest neighbours sharing the class "
         f"(chance ≈ {1 / report['n_classes']:.2f})."),
        f"Paper ({PAPER_REFERENCE}); its numbers were measured label-conditioned"
        + (", so they are not directly comparable with this neutral-label report." if mode != "label-conditioned" else "."),
        "",
        "| model | role | mode | epochs | its test accuracy (read-out) |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        m = report["models"][name]
        role = ROLE_TEXT.get(m["role"], m["role"]) + (f" of {m['of']}" if m.get("of") else "")
        lines.append(f"| {name} | {role} | {m['mode']} | {m.get('epoch', '-')} | {_fmt(m.get('training_test_accuracy'))} |")
    for i in range(n_layers):
        lines += ["", f"## Layer {i}", "",
                  "| model | latent | " + " | ".join(SCALARS.values()) + " |",
                  "|---|---|" + "---|" * len(SCALARS)]
        for name in names:
            m = report["models"][name]
            for kind, layers in m["latents"].items():
                if i >= len(layers):
                    continue
                r = layers[i]
                cells = [_with_ci(r[key], r.get("ci", {}).get(key)) for key in SCALARS]
                lines.append(f"| {name} ({m['mode']}) | {kind} | " + " | ".join(cells) + " |")
        rows = [(p, layer) for p in report["pairs"] for layer in p["layers"] if layer["layer"] == i]
        if rows:
            lines += [
                "",
                "| pair | what it measures | CKA | p (CKA vs unrelated) | matched r, active pairs | Wasserstein (mean) | p (W) | KS (mean) | p (KS) |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for p, layer in rows:
                ci, pv = layer.get("ci", {}), layer.get("p_values", {})
                lines.append(
                    f"| {p['a']} vs {p['b']} | {PAIR_ROLE_TEXT.get(p.get('role'), '-')} | {_with_ci(layer['cka'], ci.get('cka'))} | "
                    f"{_p(pv.get('cka_vs_unrelated'))} | {_with_ci(layer['matched_correlation_active_mean'], ci.get('matched_correlation_active_mean'))} "
                    f"({layer['n_active_pairs']} of {layer['n_pairs']}) | {_with_ci(layer['wasserstein_mean'], ci.get('wasserstein_mean'))} | "
                    f"{_p(pv.get('wasserstein_mean'))} | {_with_ci(layer['ks_mean'], ci.get('ks_mean'))} | {_p(pv.get('ks_mean'))} |"
                )
            sig = [f"{p['a']} vs {p['b']}" for p, layer in rows if (layer.get("p_values", {}).get("wasserstein_mean") or 1) < 0.05]
            lines += ["", "Activity distributions of matched neurons differ significantly (p < 0.05, Wasserstein) for: "
                      + (", ".join(sig) if sig else "none") + "."]
        diffs = [d for d in report.get("differences", []) if d["layer"] == i]
        if diffs:
            lines += ["", "| difference (paired over test samples) | value | 95 % CI | significant |", "|---|---|---|---|"]
            for d in diffs:
                label = f"{d['first']} − {d['second']}" if d["metric"] == "cka" else f"{SCALARS[d['metric']]}: {d['first']} − {d['second']}"
                lines.append(f"| {label} | {_fmt(d['difference'])} | {_ci(d['ci'])} | {'yes' if d['significant'] else 'no'} |")
    if report.get("notes"):
        lines += ["", "## What could not be matched", ""] + [f"- {n}" for n in report["notes"]]
    if report.get("files"):
        lines += ["", "Figures: " + ", ".join(f"`{f}`" for f in report["files"])]
    lines += ["", "## Verdict", "", *verdict_lines(report)]
    return "\n".join(lines) + "\n"


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The verdict in words, with the numbers it rests on."""
    v = report.get("verdict") or {}
    if not v.get("layers"):
        return [v.get("text", "no verdict: no same-depth layers to compare")]
    a, b = v["a"], v["b"]
    mode = report.get("label_mode")
    lines = [(f"Claim (seed paper): {a} and {b} learn similar sparsity, separability and structure. "
              f"Judged against {v['against']}, {mode} label, primary latents.")]
    for layer in v["layers"]:
        c = layer["claims"]
        i = layer["layer"]
        sp, se, st = c["sparsity"], c["separability"], c["structure"]
        hoyer = {n: report["models"][n]["latents"][report["models"][n]["primary"]][i]["hoyer"] for n in (a, b)}
        knn = {n: report["models"][n]["latents"][report["models"][n]["primary"]][i]["knn_agreement"] for n in (a, b)}
        seed_txt = lambda d: f", seed-to-seed {_fmt(d['seed_difference'])}" if d.get("seed_difference") is not None else ""
        lines.append("")
        lines.append(f"**Layer {i}: the claim {'is undetermined (no interval: pass --resamples > 0)' if layer['holds'] is None else ('holds' if layer['holds'] else 'does not hold')}.**")
        lo, hi = PAPER_RANGES["hoyer"]
        inside = [n for n in (a, b) if hoyer[n] is not None and lo <= hoyer[n] <= hi]
        in_range = ("both" if len(inside) == 2 else ", ".join(inside) or "neither") + f" inside the paper's {lo}-{hi}"
        lines.append(
            f"- sparsity {_similar(sp['holds'])}: Hoyer {_fmt(hoyer[a])} vs {_fmt(hoyer[b])} ({in_range}), "
            f"difference {_fmt(sp['difference'])} {_ci(sp['ci'])} ({'significant' if sp['significant'] else 'not significant'}{seed_txt(sp)})."
        )
        above = ", ".join(f"{n} {'above' if ok else 'NOT above'} its untrained twin" for n, ok in se["above_untrained"].items())
        lines.append(
            f"- separability {_similar(se['holds'])}: 5-NN {_fmt(knn[a])} vs {_fmt(knn[b])}, "
            f"difference {_fmt(se['difference'])} {_ci(se['ci'])} ({'significant' if se['significant'] else 'not significant'}{seed_txt(se)}); {above}."
        )
        parts = []
        if st["cka_minus_seed_cka"] is not None:
            parts.append(f"CKA({a}, {b}) − CKA of two seeds = {_fmt(st['cka_minus_seed_cka'])} {_ci(st['ci_seed'])}")
        if st["cka_minus_control_cka"] is not None:
            parts.append(f"CKA({a}, {b}) − CKA({a}, {b} untrained) = {_fmt(st['cka_minus_control_cka'])} {_ci(st['ci_control'])}")
        lines.append(f"- structure {_similar(st['holds'])}: " + ("; ".join(parts) or "no control") + ".")
    lines += ["", ("Rules: a metric is similar when the A − B difference is not significant or no larger than the seed-to-seed "
                   "difference; separability also needs each model significantly above its untrained twin; structure needs "
                   "CKA(A, B) significantly above the untrained control and not significantly below the CKA of two seeds.")]
    return lines


def _json_safe(obj: Any) -> Any:
    """NaN/inf -> null so report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def write_plots(latents: LatentSet, report: dict[str, Any], out_dir: Path, n_heatmap: int = 500, n_embed: int = 1000, seed: int = 0,
                progress: bool = False, embeddings: tuple[str, ...] = ("pca", "tsne"), fmt: str = "png") -> list[str]:
    """All figures of a comparison into ``out_dir`` (format ``fmt``); returns their file names:
    the summary, and per layer heatmaps, embeddings, sparsity, class-conditional activity,
    centroid distances and the matched-neuron tuning curves of every compared pair; the
    layer-by-layer CKA matrix of two models when they have more than one layer."""
    y = latents.labels["test"]
    n_layers = max(m.n_layers for m in latents.models)
    caption = plots.Caption(latents.dataset, latents.label_mode, tuple(m.name for m in latents.role("model")), len(y))
    files: list[Path] = [plots.plot_summary(report, out_dir / f"summary.{fmt}", caption, SCALARS, PAPER_RANGES)]
    plan = comparison_plan(latents)
    bar = tqdm(total=n_layers * (5 + len(plan)), desc="plots", disable=not progress, leave=False)
    for i in range(n_layers):
        panels = [plots.Panel(f"{m.name} L{i} {m.primary}", m.layers()[i], y) for m in latents.models if i < m.n_layers]
        files.append(plots.plot_class_sorted_heatmaps(panels, out_dir / f"heatmap_layer{i}.{fmt}", caption, n_heatmap, latents.n_classes, i))
        files.append(plots.plot_embeddings(panels, out_dir / f"embedding_layer{i}.{fmt}", caption, list(embeddings), n_embed, seed, i, latents.n_classes))
        files.append(plots.plot_sparsity_histograms(panels, out_dir / f"sparsity_layer{i}.{fmt}", caption, i))
        files.append(plots.plot_class_activity(panels, out_dir / f"class_activity_layer{i}.{fmt}", caption, latents.n_classes, i))
        files.append(plots.plot_centroid_distances(panels, out_dir / f"centroids_layer{i}.{fmt}", caption, latents.n_classes, i))
        bar.update(5)
        for a, b, _ in plan:
            if i < min(a.n_layers, b.n_layers):
                d = M.match_neurons(a.layers()[i], b.layers()[i])
                path = out_dir / f"tuning_layer{i}_{_slug(a.name)}__{_slug(b.name)}.{fmt}"
                files.append(plots.plot_tuning_curves(a.layers()[i], b.layers()[i], y, *d, path, caption, (a.name, b.name), latents.n_classes, layer=i))
            bar.update()
    for p in report["pairs"]:
        if p["role"] == "models" and len(p["cka_matrix"]) * len(p["cka_matrix"][0]) > 1:
            path = out_dir / f"cka_{_slug(p['a'])}__{_slug(p['b'])}.{fmt}"
            files.append(plots.plot_cka_matrix(p["cka_matrix"], path, p["a"], p["b"], caption))
    bar.close()
    return [f.name for f in files]


def compare(
    checkpoints: list[str | Path],
    out_dir: str | Path,
    dataset: str | Dataset | None = None,
    n_train: int | None = 2000,
    n_test: int | None = None,
    n_embed: int = 1000,
    n_heatmap: int = 500,
    seed: int = 0,
    progress: bool = True,
    with_plots: bool = True,
    threads: int | None = 1,
    label: str = DEFAULT_LABEL_MODE,
    reference: str | Path | None = None,
    controls: bool = True,
    n_resamples: int = N_RESAMPLES,
    embeddings: tuple[str, ...] = ("pca", "tsne"),
    fmt: str = "png",
) -> dict[str, Any]:
    """Collect the latents of ``checkpoints`` (with their untrained twins and the optional
    ``reference``, a second seed of one of them) on ``dataset`` and write ``latents.npz``,
    ``report.json``, ``report.md`` and the figures into ``out_dir``; returns the report.

    ``n_train``: training samples for the linear probe; ``n_test``: test samples every metric
    is computed on (None: the whole split); ``n_embed``: samples in the embedding plots;
    ``n_heatmap``: samples in the heatmaps; ``with_plots=False`` writes the numbers only.
    ``label``: "neutral" (default) embeds the average class code, so that no label information
    enters through the input; "label-conditioned" each sample's true label (as in training's
    positive pass). ``controls``: the untrained twins; ``n_resamples``: bootstrap resamples and
    permutations per statistic (0: no intervals or tests). ``embeddings``: of "pca", "tsne",
    "umap"; ``fmt``: "png", "svg" or "pdf".
    ``threads``: torch/BLAS/OpenMP threads while it runs (None: leave the libraries' defaults).
    One is the default because on a shared, loaded machine spin-waiting OpenMP threads make
    t-SNE and the neighbour searches several times slower (t-SNE of 360 digits: 5 s with one
    thread, 38 s with two on the loaded 2-core machine)."""
    for name, v in (("n_embed", n_embed), ("n_heatmap", n_heatmap)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            raise NeuroffError(f"{name} must be an integer >= 2, got {v!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 0:
        raise NeuroffError(f"n_resamples must be an integer >= 0, got {n_resamples!r}")
    check_label_mode(label)
    plots.check_embeddings(embeddings)
    plots.check_format(fmt)
    with limited_threads(threads):
        return _compare(checkpoints, out_dir, dataset, n_train, n_test, n_embed, n_heatmap, seed, progress, with_plots, label,
                        reference, controls, n_resamples, tuple(embeddings), fmt)


def _compare(checkpoints, out_dir, dataset, n_train, n_test, n_embed, n_heatmap, seed, progress, with_plots, label,
             reference, controls, n_resamples, embeddings, fmt) -> dict[str, Any]:
    out = Path(out_dir)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    latents = collect(checkpoints, dataset, n_train=n_train, n_test=n_test, seed=seed, progress=progress, label=label,
                      reference=reference, controls=controls)
    save_latents(out / "latents.npz", latents)
    timing["collect_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = build_report(latents, seed=seed, progress=progress, n_resamples=n_resamples)
    timing["metrics_seconds"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    report = _json_safe(report)
    figures = write_plots(latents, report, out, n_heatmap, n_embed, seed, progress, embeddings, fmt) if with_plots else []
    report["files"] = ["latents.npz", *figures]
    timing["plots_seconds"] = time.perf_counter() - t2
    report["timing"] = {k: round(v, 2) for k, v in timing.items()}
    report["timing"]["total_seconds"] = round(time.perf_counter() - t0, 2)
    write_json(out / "report.json", report)
    atomic_write(out / "report.md", lambda f: f.write(markdown_report(report)), mode="w")
    return report
