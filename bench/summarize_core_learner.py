"""Seed summaries of bench_core_learner runs: for each named run, every stored seed ("NAME",
"NAME (seed S)"), the last epoch's validation and the test accuracy as mean ± sd [95 % t
interval] (neuroff.studies.stats.seed_summary), the validation curve per epoch, and a figure of
those curves (mean over seeds, ± sd band). Reads bench/results/core_learner_<dataset>.json;
writes the summary JSON and the PNG next to it.

    .venv/bin/python bench/summarize_core_learner.py --runs spiking-1x400-hard-homeo-16,analog-1x400-hard \
        --out bench/results/core_learner_stop30
    .venv/bin/python bench/summarize_core_learner.py --runs spiking-search-steps23,spiking-search-sharp30 \
        --versus spiking-search-steps23:spiking-search-sharp30 --out bench/results/core_learner_screen_stop32
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from neuroff.cli import Parser, guarded  # noqa: E402
from neuroff.errors import NeuroffError  # noqa: E402
from neuroff.io import atomic_write, read_json, write_json  # noqa: E402
from neuroff.studies.stats import format_summary  # noqa: E402
from neuroff.studies.stored_runs import gap, summarize, versus  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def plot(summary: dict[str, dict], path: Path, dataset: str) -> None:
    screened = {n: s["eval_repeats_readout"]["validation_by_repeats"] for n, s in summary.items()
                if "validation_by_repeats" in s.get("eval_repeats_readout", {})}
    curves = {n: s for n, s in summary.items() if s["validation_curve_mean"]}
    finals = {n: s for n, s in summary.items() if not s["validation_curve_mean"] and s["test"]}  # --validation 0 runs
    panels = ["curves"] * bool(curves) + ["readout"] * bool(screened) + ["test"] * bool(finals)
    widths = {"curves": 2, "readout": 1, "test": 1}
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * sum(widths[p] for p in panels), 4.8), squeeze=False,
                             gridspec_kw={"width_ratios": [widths[p] for p in panels]})
    ax_of = dict(zip(panels, axes[0]))
    if screened:
        ax_r = ax_of["readout"]
        for name, by_r in screened.items():
            r = sorted(int(k) for k in by_r)
            mean = [100 * by_r[str(k)]["mean"] for k in r]
            sd = [100 * by_r[str(k)]["sd"] for k in r]
            ax_r.errorbar(r, mean, yerr=sd, marker="o", ms=4, capsize=3, label=name)
        ax_r.set(title="read-out: presentations per candidate", xlabel="presentations averaged (R)",
                 ylabel="validation accuracy, % (last epoch)", xscale="log")
        ax_r.set_xticks(sorted({int(k) for by_r in screened.values() for k in by_r}))
        ax_r.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax_r.get_xaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())  # only the R screened are labelled
        ax_r.grid(alpha=0.3)
        ax_r.legend(fontsize=8)
    if curves:
        ax = ax_of["curves"]
        for name, s in curves.items():
            mean = [100 * v for v in s["validation_curve_mean"]]
            sd = [100 * v for v in s["validation_curve_sd"]]
            x = range(1, len(mean) + 1)
            ax.plot(x, mean, marker="o", ms=3, label=f"{name} ({len(s['seeds'])} seeds)")
            ax.fill_between(x, [m - d for m, d in zip(mean, sd)], [m + d for m, d in zip(mean, sd)], alpha=0.2)
        ax.set(title=f"{dataset}: validation accuracy per epoch (mean ± sd over seeds)", xlabel="epoch",
               ylabel="validation accuracy, %")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # epochs are whole
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if finals:  # trained on the whole training set: no curve, the test set once per seed beside its validation-split run
        ax_t = ax_of["test"]
        shown = {**{n: s for n, s in summary.items() if s["test"] and n not in finals}, **finals}
        for k, (name, s) in enumerate(shown.items()):
            values = [100 * v for v in s["test"]["values"]]
            ax_t.plot([k] * len(values), values, "o", ms=4, alpha=0.6,
                      label=f"{name} ({'whole training set' if name in finals else 'validation split held out'})")
            ax_t.errorbar([k + 0.15], [100 * s["test"]["mean"]], yerr=[100 * s["test"]["sd"]], fmt="k_", capsize=4)
        ax_t.set_xticks(range(len(shown)), [f"run {k + 1}" for k in range(len(shown))])
        ax_t.set(title="test accuracy, read once per seed", xlabel="run (legend)", ylabel="test accuracy, %")
        ax_t.grid(alpha=0.3, axis="y")
        ax_t.margins(y=0.35)  # room for the legend
        ax_t.legend(fontsize=7, loc="best")
    splits = sorted({(s["held_out"], s.get("n_train") or 0) for s in summary.values()})
    held = " / ".join("none (the whole training set)" if not v else f"{v:,} of the first {n:,} training samples" if n
                      else f"{v:,} training samples" for v, n in splits)
    outside = [f"{n} seeds {s['stored_by_readout_screen']}" for n, s in summary.items() if s.get("stored_by_readout_screen")]
    caption = ("Caption: bench/bench_core_learner.py runs"
               + (f" (trained in parts with --resume, stored by readout_screen.py --store-as: {'; '.join(outside)})" if outside else "")
               + f", {held} held out per seed (the rest trained); "
             + ("the test set is read once per run that reads it, after its last epoch"
                + (" (right: each seed as a dot, the mean ± sd as a bar; the runs on the whole training set have no "
                   "validation curve)" if finals else " (not plotted)")
                if any(s["test"] for s in summary.values()) else "validation only: the test set was not read")
             + ("; the read-out panel: the trained nets read with R presentations per candidate, every R on the same nested "
                "spikes (mean ± sd over seeds)." if screened else "."))
    fig.text(0.01, 0.01, textwrap.fill(caption, 60 * len(panels) + 65), fontsize=7)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def main() -> None:
    parser = Parser(prog="summarize_core_learner.py", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--runs", required=True, help="comma list of bench_core_learner run names")
    parser.add_argument("--out", required=True, help="path stem: writes STEM.json and STEM.png")
    parser.add_argument("--gap", action="append", default=[], metavar="REFERENCE:RUN",
                        help="also the paired test gap REFERENCE − RUN per shared seed (each with its read-out chosen on "
                             "validation), e.g. analog-1x400-hard-16:spiking-1x400-hard-homeo-16; repeatable")
    parser.add_argument("--versus", action="append", default=[], metavar="BASELINE:RUN",
                        help="also the paired validation difference RUN − BASELINE per shared seed (a screen's verdict; "
                             "the test set is not used), e.g. spiking-search-steps23:spiking-search-sharp30; repeatable")
    args = parser.parse_args()
    source = RESULTS / f"core_learner_{args.dataset}.json"
    if not source.exists():
        raise NeuroffError(f"{source} does not exist; run bench/bench_core_learner.py first")
    stored = read_json(source)
    summary = {name: summarize(stored, name) for name in args.runs.split(",")}
    for name, s in summary.items():
        test = format_summary(s["test"]) if s["test"] else "not read"
        extra = ""
        if "eval_repeats_readout" in s:
            r = s["eval_repeats_readout"]
            extra = f"; {r['repeats']} presentations: validation {format_summary(r['validation'])}"
            extra += f", test {format_summary(r['test'])}" if "test" in r else ""
        validation = format_summary(s["validation"]) if s["validation"] else "none held out"
        print(f"{name} (seeds {s['seeds']}): validation {validation}, test {test}{extra}")
    try:
        gaps = [gap(stored, pair) for pair in args.gap]
    except NeuroffError as e:
        raise NeuroffError(f"--gap {args.gap}: {e}") from None
    for g in gaps:
        print(f"gap {g['reference']} − {g['run']} (seeds {g['gap']['seeds']}): {format_summary(g['gap'])}; "
              f"≤ {100 * g['ceiling']:.1f} by the interval rule: {'met' if g['met'] else 'not met'}")
    try:
        screens = [versus(stored, pair) for pair in args.versus]
    except NeuroffError as e:
        raise NeuroffError(f"--versus {args.versus}: {e}") from None
    for v in screens:
        line = f"validation {v['run']} − {v['baseline']} (seeds {v['last_epoch']['seeds']}): last epoch {format_summary(v['last_epoch'])}"
        line += f"; read-out chosen on validation {format_summary(v['chosen_readout'])}" if "chosen_readout" in v else ""
        print(line)
    write_json(Path(args.out + ".json"), {"source": str(source.name), "runs": summary, **({"gaps": gaps} if gaps else {}),
                                          **({"versus": screens} if screens else {})})
    plot(summary, Path(args.out + ".png"), args.dataset)
    print(f"wrote {args.out}.json and {args.out}.png")


if __name__ == "__main__":
    sys.exit(guarded(main))
