"""Split-dataset continual learning protocol: task split, resumed engine runs, report files."""

from __future__ import annotations

import json

import pytest
import torch

from neuroff.studies.baselines import BackpropNet
from neuroff.layers.spec import parse_blocks
from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.studies.continual import SPLIT_PAIRS, run_continual, split_tasks
from neuroff.data import load_dataset
from neuroff.errors import NeuroffError

torch.set_num_threads(1)


def test_split_tasks_keep_only_their_classes_and_the_single_head():
    ds = load_dataset("digits", seed=0)
    tasks = split_tasks(ds)
    assert len(tasks) == 5
    for task, pair in zip(tasks, SPLIT_PAIRS):
        assert set(task.y_train.tolist()) == set(pair) and set(task.y_test.tolist()) == set(pair)
        assert task.n_classes == 10
    assert sum(t.n_train for t in tasks) == ds.n_train
    with pytest.raises(NeuroffError, match="out of range"):
        split_tasks(ds, ((0, 10),))
    with pytest.raises(NeuroffError, match="no training or test samples"):
        split_tasks(ds.subset(5, 5))


def test_run_continual_for_a_rule_and_backprop(tmp_path):
    config = FFConfig(rule="contrastive-hebbian", mode="analog", embedding="none", layers=[32], seed=1, ch_eta=0.01, batch_size=16, epochs=1)
    report = run_continual(config, tmp_path, bp_lr=0.01, progress=False)
    saved = json.loads((tmp_path / "continual.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert (tmp_path / "continual.png").stat().st_size > 10_000
    for method in ("contrastive-hebbian", "backprop"):
        r = report["methods"][method]
        assert len(r["accuracy_matrix"]) == 5 and all(len(row) == 5 for row in r["accuracy_matrix"])
        assert r["final_accuracy"] == r["accuracy_matrix"][-1]
        assert r["average_accuracy"] == pytest.approx(sum(r["final_accuracy"]) / 5)
    # each method learns every task it has just trained on (chance over the single 10-way head:
    # 0.1); backprop uses the rule's activation (tanh), the same architecture
    assert report["backprop_activation"] == "tanh"
    for method in ("contrastive-hebbian", "backprop"):
        matrix = report["methods"][method]["accuracy_matrix"]
        assert sum(matrix[k][k] for k in range(5)) / 5 > 0.5, method
    # task k's run resumed task k-1's checkpoint: one epoch per task, five in all
    metrics = json.loads((tmp_path / "runs" / "task4" / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4, 5]


def test_continual_cli_drives_another_family(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["continual", "--rule", "ff", "--mode", "analog", "--layers", "32", "--no-backprop", "--quiet",
              "--out", str(tmp_path)])  # fmt: skip
    assert err.value.code == 0
    assert "| ff |" in capsys.readouterr().out
    report = json.loads((tmp_path / "continual.json").read_text())
    assert list(report["methods"]) == ["ff"]


def test_backprop_reference_has_a_tanh_variant_of_the_same_net():
    spec = parse_blocks("8x8,c4k3p2,16")
    nets = {a: BackpropNet(spec, 10, torch.Generator().manual_seed(0), a) for a in ("relu", "tanh")}
    x = torch.rand(5, 64)
    assert all(torch.equal(p, q) for p, q in zip(nets["relu"].parameters(), nets["tanh"].parameters()))
    assert not torch.allclose(nets["relu"](x), nets["tanh"](x))
    with pytest.raises(NeuroffError, match="activation"):
        BackpropNet(spec, 10, torch.Generator(), "sigmoid")


def test_continual_takes_a_preset_and_reports_the_joint_bounds(tmp_path, capsys):
    """`neuroff continual --preset thesis-split --joint`: the thesis's Split settings (no biases,
    dropout, batch 32, ...) for the rule, the same dropout for backprop, and both trained on all
    tasks at once (the upper bound) beside backprop task after task (naive fine-tuning)."""
    with pytest.raises(SystemExit) as err:
        main(["continual", "--preset", "thesis-split", "--dataset", "digits", "--layers", "24", "--joint", "--quiet",
              "--out", str(tmp_path)])  # fmt: skip
    assert err.value.code == 0
    report = json.loads((tmp_path / "continual.json").read_text())
    assert list(report["methods"]) == ["contrastive-hebbian", "contrastive-hebbian joint", "backprop", "backprop joint"]
    assert report["config"]["ch_dropout"] == 0.3 and report["config"]["batch_size"] == 32 and not report["config"]["ch_bias"]
    assert report["backprop_dropout"] == 0.3
    for method in ("contrastive-hebbian joint", "backprop joint"):
        assert len(report["methods"][method]["accuracy_matrix"]) == 1  # one row: after training on everything
    with pytest.raises(SystemExit) as err:
        main(["continual", "--preset", "thesis-split", "--bp-dropout", "1.5", "--out", str(tmp_path / "x")])
    assert err.value.code == 2 and "--bp-dropout 1.5 must lie in [0, 1)" in capsys.readouterr().err


def test_split_accuracies_class_and_task_incremental():
    """Class-incremental: argmax over all classes; task-incremental: over the task's own pair only."""
    from neuroff.studies.continual import split_accuracies

    scores = torch.tensor([[0.1, 0.2, 0.0, 0.0, 0.9], [0.0, 0.3, 0.0, 0.0, 0.8], [0.5, 0.1, 0.0, 0.0, 0.2]])
    y = torch.tensor([1, 1, 0])
    # the head favours class 4 (a later task): class-incrementally 1 of 3, within the pair 0/1 all 3
    assert split_accuracies(scores, y, (0, 1)) == (pytest.approx(1 / 3), 1.0)
    assert split_accuracies(scores[:0], y[:0], (0, 1))[0] != split_accuracies(scores[:0], y[:0], (0, 1))[0]  # nan
