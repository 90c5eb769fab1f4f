"""The family contract: every registered family (and each of its substrates) runs train -> save ->
resume -> evaluate -> info through the CLI; options belong to their groups; a resumed run refuses
a change to the model; format-v1 checkpoints still load."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from neuroff import engine
from neuroff.cli import build_parser, main
from neuroff.data import load_dataset
from neuroff.engine.options import ALL_GROUPS, FFConfig, groups_read_by
from neuroff.errors import NeuroffError
from neuroff.families.base import Readout, Rule
from neuroff.families.registry import FAMILIES

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = ["--dataset", "digits", "--n-train", "150", "--n-test", "60", "--quiet"]
# small layers per family so the contract stays fast; the sym head needs an even layer
LAYERS = {"ff": "16", "intff": "16", "scff": "16", "contrastive-hebbian": "16"}
CASES = [(name, mode) for name, family in FAMILIES.items() for mode in family.modes]
# on-chip learning broadcasts one M per layer: only the sigma head maps onto it (families/ff/onchip.py)
MODE_OPTIONS = {"loihi": {"head": "sigma", "theta": 5.0, "alpha": 0.5}}


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _one_line_error(code: int, err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("neuroff: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name, mode", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_every_family_trains_saves_resumes_evaluates_and_reports(name, mode, tmp_path, capsys):
    extra = [a for k, v in MODE_OPTIONS.get(mode, {}).items() for a in (f"--{k}", str(v))]
    run = ["train", "--rule", name, "--mode", mode, "--layers", LAYERS[name], *SMALL, *extra]
    code, out, err = _run([*run, "--epochs", "1", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and summary["test_metric"] == FAMILIES[name].test_metric
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["mode"] == mode and metrics["epochs"][0]["train_metric"] == FAMILIES[name].train_metric
    # resume: one more epoch, bit-identical to an uninterrupted two-epoch run
    code, out, err = _run(["train", "--resume", str(tmp_path / "model.pt"), "--epochs", "2", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert _run([*run, "--epochs", "2", "--out", str(tmp_path / "straight")], capsys)[0] == 0
    resumed, straight = engine.load_trained(tmp_path / "model.pt"), engine.load_trained(tmp_path / "straight" / "model.pt")
    assert resumed.epoch == 2
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    code, out, err = _run(["evaluate", str(tmp_path / "model.pt"), "--n-test", "60"], capsys)
    result = json.loads(out)
    assert code == 0 and result["n_test"] == 60 and 0.0 <= result["test_accuracy"] <= 1.0
    assert result["test_accuracy"] == pytest.approx(straight.history[-1]["test_accuracy"])
    code, out, _ = _run(["info", str(tmp_path / "model.pt"), "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["family"] == name and info["mode"] == mode and info["epoch"] == 2


def test_rules_implement_the_protocol():
    for name, family in FAMILIES.items():
        for mode in family.modes:
            config = FFConfig(rule=name, mode=mode, layers=[8], **MODE_OPTIONS.get(mode, {})).validate()
            model, rule = engine.build(config, 64 + (config.code_bits if config.embedding == "code" else 0), 10, torch.Generator())
            assert isinstance(rule, Rule), (name, mode)
            if family.readout is not Readout.PROBE:
                assert hasattr(model, "candidate_scores")


def test_resume_refuses_a_change_to_the_model(tmp_path, capsys):
    assert _run(["train", "--layers", "8", *SMALL, "--epochs", "1", "--out", str(tmp_path)], capsys)[0] == 0
    resume = ["train", "--resume", str(tmp_path / "model.pt"), "--quiet"]
    _one_line_error(*_run([*resume, "--layers", "50,50"], capsys)[::2], "--layers cannot change on --resume")
    _one_line_error(*_run([*resume, "--rule", "intff"], capsys)[::2], "--rule cannot change")
    _one_line_error(*_run([*resume, "--encoder", "latency"], capsys)[::2], "--encoder cannot change")
    # the same value as the checkpoint's, or a resumable option, is accepted
    code, out, err = _run([*resume, "--layers", "8", "--epochs", "2", "--eval-every", "1"], capsys)
    assert code == 0, err and json.loads(out.strip().splitlines()[-1])["epochs"] == 2


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["--rule", "intff", "--beta", "3"], ["--beta belongs to the LIF neuron", "--rule intff does not use it"]),
        (["--mode", "analog", "--ch-eta", "5"], ["--ch-eta belongs to the contrastive Hebbian", "read by contrastive-hebbian"]),
        (["--mode", "analog", "--lr", "0.1"], ["--lr belongs to the neo-Hebbian plasticity", "ff --mode spiking"]),
        (["--rule", "scff", "--mode", "spiking", "--blocks", "64,10"], ["--blocks belongs to the layer spec"]),
        (["--rule", "contrastive-hebbian", "--mode", "spiking"], ["has no spiking form", "families with one: ff, scff"]),
        (["--rule", "ff", "--embedding", "none"], ["takes --embedding code or onehot"]),
        (["--rule", "scff", "--probe", "svm"], ["invalid choice"]),
    ],
)
def test_an_option_the_family_does_not_read_is_a_one_line_error(argv, needles, capsys):
    _one_line_error(*_run(["train", *SMALL, *argv], capsys)[::2], *needles)


def test_an_option_given_at_its_default_is_still_refused_where_it_does_not_belong(capsys):
    _one_line_error(*_run(["train", *SMALL, "--rule", "intff", "--beta", "0.85"], capsys)[::2], "--beta belongs")


def test_every_train_option_has_help_and_belongs_to_one_group():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]  # noqa: SLF001
    for action in train._actions:  # noqa: SLF001
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        assert action.help and len(action.help) > 10, action.option_strings
    owners: dict[str, str] = {}
    for group in ALL_GROUPS:
        for name in group.field_names():
            assert name not in owners, f"{name} is declared in {owners[name]} and {group.title}"
            owners[name] = group.title
    assert set(owners) == {f.name for f in dataclasses.fields(FFConfig)}


def test_family_defaults_resolve_and_each_family_reads_its_groups():
    for name, family in FAMILIES.items():
        config = FFConfig(rule=name).validate()
        assert config.mode == family.modes[0] and config.embedding in family.embeddings
        assert config.batch_size == family.defaults[config.mode]["batch_size"]
        assert config.epochs == family.defaults[config.mode]["epochs"]
        assert set(family.groups[config.mode]) <= set(groups_read_by(family, config.mode))


def test_config_file_with_grouped_keys(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"run": {"rule": "ff", "mode": "analog", "layers": [8], "epochs": 1}, "analog": {"analog_lr": 0.01}}))
    code, _, err = _run(["train", "--config", str(path), *SMALL, "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["config"]["analog_lr"] == 0.01


def test_format_v1_checkpoint_loads_evaluates_and_resumes(tmp_path, capsys):
    fixture = FIXTURES / "v1_analog_digits.pt"
    stored = json.loads((FIXTURES / "v1_analog_digits.evaluate.json").read_text())
    assert torch.load(fixture, weights_only=True)["format"] == "neuroff-checkpoint-v1"
    trained = engine.load_trained(fixture)
    ds = load_dataset("digits", seed=trained.config.seed).subset(None, 100)
    assert engine.test_accuracy(trained, ds) == pytest.approx(stored["test_accuracy"])
    assert trained.history[-1]["train_metric"] == "pair accuracy" and "train_pair_accuracy" not in trained.history[-1]
    code, out, err = _run(["train", "--resume", str(fixture), "--epochs", "4", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert torch.load(tmp_path / "model.pt", weights_only=True)["format"] == "neuroff-checkpoint-v2"
    assert engine.load_trained(tmp_path / "model.pt").epoch == 4


def test_v1_options_the_family_never_read_are_reset():
    from neuroff.engine.training import convert_v1

    data = {"config": {**FFConfig().to_dict(), "rule": "ff", "mode": "analog", "embedding": "code", "lr": 0.5, "beta": 0.5,
                       "batch_size": None}, "metrics": [{"epoch": 1, "train_pair_accuracy": 0.5}]}
    converted = convert_v1(data)
    config = FFConfig.from_dict(converted["config"]).reset_unread().validate()  # as load_trained: lr/beta would be refused
    assert config.lr == FFConfig().lr and config.batch_size == 64
    assert converted["metrics"][0] == {"epoch": 1, "train_accuracy": 0.5, "train_metric": "pair accuracy"}
    with pytest.raises(NeuroffError, match="belongs to the"):
        FFConfig.from_dict(data["config"]).validate()


def test_layer_activity_is_recorded_warned_and_refused_by_the_exporters(tmp_path, capsys):
    """A spiking layer that never fires: metrics.json records its activity per epoch, training warns
    once naming the layer, and both exporters refuse it unless --allow-silent."""
    run = ["train", *SMALL, "--layers", "16,16", "--epochs", "2", "--out", str(tmp_path)]
    code, _, err = _run([*run, "--threshold", "1000"], capsys)
    assert code == 0
    assert err.count("neuroff: warning: layer 0 is almost silent") == 1 and "layer 1" in err
    epochs = json.loads((tmp_path / "metrics.json").read_text())["epochs"]
    assert [len(e["layer_activity"]) for e in epochs] == [2, 2] and epochs[-1]["layer_activity"] == [0.0, 0.0]
    for target, out in (("loihi", "m.net"), ("nir", "m.nir")):
        code, _, err = _run(["export", str(tmp_path / "model.pt"), "--target", target, "-o", str(tmp_path / out), "--n-test", "20"], capsys)
        _one_line_error(code, err, "layer 0 is silent", "--allow-silent")
        assert not (tmp_path / out).exists()
    code, _, err = _run(["export", str(tmp_path / "model.pt"), "--target", "nir", "-o", str(tmp_path / "m.nir"), "--allow-silent"], capsys)
    assert code == 0 and (tmp_path / "m.nir").exists()
    # a net that fires records a positive activity and exports without a word
    code, _, err = _run(["train", *SMALL, "--mode", "analog", "--layers", "16", "--epochs", "1", "--out", str(tmp_path / "ok")], capsys)
    assert code == 0 and "warning" not in err
    assert json.loads((tmp_path / "ok" / "metrics.json").read_text())["epochs"][0]["layer_activity"][0] > 0.05


def test_a_direct_input_net_trains_and_is_refused_by_the_spike_targets(tmp_path, capsys):
    """--encoder direct (graded input, not spikes) trains in the online kernel; the Loihi and NIR
    exporters and on-chip learning, whose inputs are spikes, refuse it with one line and no file."""
    code, _, err = _run(["train", *SMALL, "--encoder", "direct", "--layers", "16", "--epochs", "1", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["encoder"] == "direct" and metrics["epochs"][0]["layer_activity"][0] > 0.0
    for target, out in (("loihi", "m.net"), ("nir", "m.nir")):
        code, _, err = _run(["export", str(tmp_path / "model.pt"), "--target", target, "-o", str(tmp_path / out), "--n-test", "20"], capsys)
        _one_line_error(code, err, "--encoder direct", "retrain with --encoder rate or latency")
        assert not (tmp_path / out).exists()
    # on-chip learning, of a fresh net or of this checkpoint (its input ports would cast x to 0 or 1)
    code, _, err = _run(["train", *SMALL, "--mode", "loihi", "--encoder", "direct", "--out", str(tmp_path / "chip")], capsys)
    _one_line_error(code, err, "--encoder direct", "--encoder rate or latency")
    assert not (tmp_path / "chip").exists()
    code, _, err = _run(["run-lava", "--learn", str(tmp_path), "--samples", "1", "--lava-venv", str(tmp_path / "venv")], capsys)
    _one_line_error(code, err, "--encoder direct", "--encoder rate or latency")


def test_presets_load_and_flags_override_them(tmp_path, capsys):
    from neuroff.presets import load_preset, preset_names

    assert {"digits-spiking", "digits-analog", "digits-latency"} <= set(preset_names())
    code, _, err = _run(["train", "--preset", "digits-latency", *SMALL, "--epochs", "1", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert config["encoder"] == "latency" and config["pre_trace"] == "leaky" and config["epochs"] == 1  # the flag wins
    assert load_preset("digits-analog")["layers"] == [500]
    _one_line_error(*_run(["train", "--preset", "no-such", *SMALL], capsys)[::2], "unknown preset 'no-such'", "digits-spiking")


def test_train_without_out_saves_to_a_new_default_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, err = _run(["train", *SMALL, "--mode", "analog", "--layers", "8", "--epochs", "1"], capsys)
        assert code == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.name.startswith("ff-digits-") and (r / "model.pt").exists() for r in runs)
    assert json.loads(out.strip().splitlines()[-1])["out"] == f"runs/{runs[-1].name}"
    loud = [a for a in SMALL if a != "--quiet"]
    code, out, err = _run(["train", *loud, "--mode", "analog", "--layers", "8", "--epochs", "1"], capsys)
    assert code == 0 and out.splitlines()[0].startswith("neuroff: the run is saved to runs/ff-digits-"), (out, err)


def test_encoder_defaults_and_unset_options_are_resolved_for_every_family():
    from neuroff.engine.options import MAY_BE_NONE

    for name, family in FAMILIES.items():
        for mode in family.modes:
            for encoder in ("rate", "latency"):
                config = FFConfig(rule=name, mode=mode, encoder=encoder if mode == "spiking" else "rate").validate()
                read = {n for g in groups_read_by(family, mode) for n in g.field_names()}
                assert [n for n in read if getattr(config, n) is None and n not in MAY_BE_NONE] == [], (name, mode)
    latency = FFConfig(encoder="latency").validate()
    assert (latency.pre_trace, latency.learn_start, latency.lr_decay) == ("leaky", 5, 1.0)
    assert FFConfig(encoder="latency", learn_start=9).validate().learn_start == 9  # a given option wins
    rate = FFConfig().validate()
    assert (rate.pre_trace, rate.max_rate, rate.lr_decay) == ("none", 1.0, 0.8)
    with pytest.raises(NeuroffError, match=r"--pre-trace-decay 1.5 must be a finite number in \(0, 1\]"):
        FFConfig(pre_trace="leaky", pre_trace_decay=1.5).validate()


def test_every_preset_is_a_valid_configuration_with_a_description():
    """Each preset (the papers' protocols included) validates as it stands and says where it comes from."""
    from neuroff.presets import load_preset, preset_description, preset_names

    assert {"thesis-mnist", "thesis-split", "scff-mnist-mlp", "scff-fashion-conv", "intff-paper"} <= set(preset_names())
    for name in preset_names():
        options = load_preset(name)
        FFConfig.from_dict(options).validate(set(options))
        assert len(preset_description(name)) > 80, name
    split = load_preset("thesis-split")
    assert (split["ch_dropout"], split["ch_eta"], split["ch_meta_lr"], split["ch_bias"]) == (0.3, 1e-4, 0.1, False)
    assert load_preset("scff-fashion-conv")["scff_algorithm"] == "1,2" and load_preset("scff-mnist-mlp")["probe_epochs"] == 50
    assert load_preset("intff-paper")["intff_normalize_first"] is True
