"""The training engine (neuroff.engine.training) on real digits: bit-exact reproducibility, exact resume,
checkpoint round trips, the one-line errors a user can cause, and a loose accuracy floor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from neuroff import engine
from neuroff.engine.checkpoint import save_checkpoint
from neuroff.engine.options import FFConfig
from neuroff.data import Dataset, load_dataset
from neuroff.errors import NeuroffError

SMALL = dict(n_train=200, n_test=50)
MODES = {
    "spiking-online": dict(mode="spiking", batch_size=1),
    "spiking-batch4": dict(mode="spiking", batch_size=4),
    "spiking-homeostasis": dict(mode="spiking", batch_size=1, layers=[40, 20], homeostasis_rate=0.001),
    "analog": dict(mode="analog", batch_size=16),
    # the Fashion-MNIST runs' recipe: hard negatives drawn from the net's own scores from epoch 2 on,
    # homeostasis, a validation split held out (the 16-epoch nets were resumed from 8-epoch ones)
    "spiking-hard-validation": dict(mode="spiking", batch_size=1, negatives="hard", homeostasis_rate=0.001, validation=50),
}


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", seed=0)


def _config(mode: str, **kw) -> FFConfig:
    return FFConfig(**(SMALL | MODES[mode] | kw))


def _state(trained: engine.Trained) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trained.model.state_dict().items()}


def _assert_same_state(a: engine.Trained, b: engine.Trained) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("mode", list(MODES))
def test_same_seed_gives_bit_identical_weights(mode: str, digits: Dataset) -> None:
    a = engine.train(_config(mode, epochs=1), dataset=digits, progress=False)
    b = engine.train(_config(mode, epochs=1), dataset=digits, progress=False)
    _assert_same_state(a, b)
    assert a.history[0]["test_accuracy"] == b.history[0]["test_accuracy"]
    assert a.history[0]["train_accuracy"] == b.history[0]["train_accuracy"]
    # training moved the weights away from the seeded initial ones
    fresh = engine.create(_config(mode), digits.subset(200, 50))
    assert not all(torch.equal(w, w0) for w, w0 in zip(a.model.weights, fresh.model.weights))


@pytest.mark.parametrize("mode", list(MODES))
def test_other_seed_gives_other_weights(mode: str, digits: Dataset) -> None:
    a = engine.train(_config(mode, epochs=1, seed=0), dataset=digits, progress=False)
    b = engine.train(_config(mode, epochs=1, seed=1), dataset=digits, progress=False)
    assert not torch.equal(a.model.weights[0], b.model.weights[0])


@pytest.mark.parametrize("mode", ["spiking-online", "spiking-homeostasis", "spiking-hard-validation", "analog"])
def test_resume_equals_training_straight_through(mode: str, digits: Dataset, tmp_path: Path) -> None:
    straight = engine.train(_config(mode, epochs=2), dataset=digits, progress=False)
    first = engine.train(_config(mode, epochs=1), out_dir=tmp_path, dataset=digits, progress=False)
    assert first.epoch == 1 and (tmp_path / "model.pt").is_file() and (tmp_path / "metrics.json").is_file()
    resumed = engine.train(_config(mode, epochs=2), dataset=digits, resume=tmp_path / "model.pt", progress=False)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    _assert_same_state(straight, resumed)
    assert resumed.history[1]["test_accuracy"] == straight.history[1]["test_accuracy"]
    # the rule's own state (homeostasis: the running activities) travels in the checkpoint
    for a, b in zip(straight.rule.state_dict().get("activity", []), resumed.rule.state_dict().get("activity", [])):
        assert torch.equal(a, b)


@pytest.mark.parametrize("mode", ["spiking-online", "analog"])
def test_checkpoint_round_trip(mode: str, digits: Dataset, tmp_path: Path) -> None:
    trained = engine.train(_config(mode, epochs=1), dataset=digits, progress=False)
    path = engine.save_trained(trained, tmp_path / "sub" / "model.pt")
    loaded = engine.load_trained(path)
    assert loaded.config == trained.config
    assert loaded.epoch == 1 and loaded.history == trained.history
    assert torch.equal(loaded.embedding.codes, trained.embedding.codes)
    _assert_same_state(trained, loaded)
    x = digits.x_test[:30]
    assert torch.equal(engine.candidate_scores(loaded, x), engine.candidate_scores(trained, x))
    assert engine.evaluate(loaded, digits.x_test[:50], digits.y_test[:50]) == trained.history[0]["test_accuracy"]
    info = engine.checkpoint_info(path)
    assert info["neuroff_version"] == info["current_version"] and info["sizes"] == trained.model.sizes


@pytest.fixture(scope="module")
def good_checkpoint(digits: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt")
    engine.train(_config("spiking-online", epochs=1), out_dir=out, dataset=digits, progress=False)
    return out / "model.pt"


def test_missing_checkpoint_raises(tmp_path: Path) -> None:
    with pytest.raises(NeuroffError, match="not found"):
        engine.load_trained(tmp_path / "nope.pt")


def test_corrupt_checkpoint_raises(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(NeuroffError, match="corrupt"):
        engine.load_trained(path)


def test_truncated_checkpoint_raises(good_checkpoint: Path, tmp_path: Path) -> None:
    data = good_checkpoint.read_bytes()
    path = tmp_path / "model.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NeuroffError, match="corrupt"):
        engine.load_trained(path)


@pytest.mark.parametrize(
    "data",
    [b"", b"junk", b"j", b"\x80\x02j", b"PK\x03\x04", b"\x80\x02}q\x00(X\x01"],
    ids=["empty", "junk", "j", "pickle-binget", "zip-magic", "pickle-cut"],
)
def test_garbage_bytes_raise(data: bytes, tmp_path: Path) -> None:
    """Short garbage reaches odd corners of the unpickler (struct.error, IndexError, KeyError);
    every one of them must come out as the one NeuroffError."""
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    with pytest.raises(NeuroffError, match="corrupt"):
        engine.load_trained(path)


def test_every_truncation_raises(good_checkpoint: Path, tmp_path: Path) -> None:
    data = good_checkpoint.read_bytes()
    path = tmp_path / "model.pt"
    for cut in range(0, len(data), max(1, len(data) // 60)):
        path.write_bytes(data[:cut])
        with pytest.raises(NeuroffError):
            engine.load_trained(path)


@pytest.mark.parametrize("payload", [{"weight": torch.zeros(3)}, torch.zeros(3), [1, 2, 3]], ids=["dict", "tensor", "list"])
def test_foreign_torch_file_raises(payload, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    with pytest.raises(NeuroffError, match="not a neuroff checkpoint"):
        engine.load_trained(path)


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    """weights_only=True: a file that would run code on load is rejected, not executed."""
    path = tmp_path / "model.pt"
    torch.save({"format": "neuroff-checkpoint-v1", "obj": Path("/")}, path)
    with pytest.raises(NeuroffError):
        engine.load_trained(path)


def test_incomplete_checkpoint_raises(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "model.pt", {"config": FFConfig().to_dict()})
    with pytest.raises(NeuroffError, match="incomplete"):
        engine.load_trained(path)


MALFORMED = {
    "codes-not-tensor": lambda d: d["label_embedding"].__setitem__("codes", [1, 2]),
    "sizes-empty": lambda d: d.__setitem__("sizes", []),
    "sizes-wrong": lambda d: d.__setitem__("sizes", [10, 200]),
    "epoch-not-int": lambda d: d.__setitem__("epoch", "x"),
    "metrics-not-list": lambda d: d.__setitem__("metrics", 3),
    "weight-missing": lambda d: d["state_dict"].pop("weight_0"),
    "layers-not-ints": lambda d: d["config"].__setitem__("layers", "abc"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_checkpoint_content_raises(name: str, good_checkpoint: Path, tmp_path: Path) -> None:
    data = torch.load(good_checkpoint, weights_only=True)
    payload = {k: v for k, v in data.items() if k not in ("format", "neuroff_version")}
    MALFORMED[name](payload)
    path = save_checkpoint(tmp_path / "model.pt", payload)
    with pytest.raises(NeuroffError, match="incomplete or from another version"):
        engine.load_trained(path)


@pytest.mark.parametrize(
    "overrides",
    [dict(mode="spiking", head="sigma", lr=1e308), dict(mode="analog", head="sigma", analog_lr=1e30, batch_size=32)],
    ids=["spiking", "analog"],
)
def test_non_finite_weights_raise(overrides: dict, digits: Dataset) -> None:
    # (lr=1e6 is not enough: spike traces and the third factor are bounded, so the spiking rule
    # grows the weights only linearly; it takes an lr near the float64 limit to overflow)
    with pytest.raises(NeuroffError, match="non-finite"):
        engine.train(FFConfig(**(SMALL | overrides | dict(epochs=1))), dataset=digits, progress=False)


def test_check_finite_catches_a_nan(digits: Dataset) -> None:
    trained = engine.create(_config("spiking-online"), digits.subset(200, 50))
    trained.model.weights[0][3, 5] = float("nan")
    with pytest.raises(NeuroffError, match="layer 0 weights became non-finite"):
        engine.check_finite(trained)


@pytest.mark.parametrize("mode", ["spiking", "analog"])
@pytest.mark.parametrize("layers", [[7], [20, 9]])
def test_odd_layer_with_sym_head_raises(mode: str, layers: list[int], digits: Dataset) -> None:
    with pytest.raises(NeuroffError, match="must be even"):
        engine.create(FFConfig(mode=mode, layers=layers, head="sym"), digits)
    engine.create(FFConfig(mode=mode, layers=layers, head="sigma"), digits)  # fine with sigma


def test_unknown_dataset_raises() -> None:
    with pytest.raises(NeuroffError, match="unknown dataset"):
        engine.train(FFConfig(dataset="imagenet", epochs=1), progress=False)


@pytest.mark.parametrize("overrides", [dict(layers=[0]), dict(learn_start=30), dict(mode="hybrid"), dict(score_layers=[3])])
def test_invalid_config_raises(overrides: dict, digits: Dataset) -> None:
    with pytest.raises(NeuroffError):
        engine.create(FFConfig(**overrides), digits)


def test_evaluate_on_other_feature_count_raises(good_checkpoint: Path) -> None:
    trained = engine.load_trained(good_checkpoint)
    mnist = load_dataset("mnist5k", seed=0).subset(10, 20)  # 784 features; digits has 64
    with pytest.raises(NeuroffError, match="input features"):
        engine.evaluate(trained, mnist.x_test, mnist.y_test)


def test_metrics_json_per_epoch(digits: Dataset, tmp_path: Path) -> None:
    import json

    engine.train(_config("analog", epochs=2), out_dir=tmp_path, dataset=digits, progress=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["config"]["mode"] == "analog"
    for e in metrics["epochs"]:
        assert 0.0 <= e["test_accuracy"] <= 1.0 and e["samples_per_s"] > 0


def test_accuracy_floor_on_digits(digits: Dataset) -> None:
    """Loose floors with the default configuration, 2 epochs (the real targets are checked by
    bench/)."""
    spiking = engine.train(FFConfig(epochs=2), dataset=digits, progress=False)
    assert spiking.history[-1]["test_accuracy"] > 0.6
    analog = engine.train(FFConfig(mode="analog", epochs=2), dataset=digits, progress=False)
    assert analog.history[-1]["test_accuracy"] > 0.85


def test_validation_split_reports_held_out_accuracy_and_tests_once(tmp_path):
    """--validation N: training sees n - N samples, every epoch reports the held-out N, and the
    test set is scored after the last epoch only."""
    config = FFConfig(mode="analog", layers=[32], epochs=3, validation=200, n_train=700, n_test=100, seed=2)
    trained = engine.train(config, out_dir=tmp_path, progress=False)
    history = trained.history
    assert [h["n_validation"] for h in history] == [200] * 3
    assert all(0.0 < h["validation_accuracy"] <= 1.0 for h in history)
    assert [h["test_accuracy"] != h["test_accuracy"] for h in history] == [True, True, False]  # NaN until the end
    # the same seed draws the same held-out samples; another seed draws others
    again = engine.train(FFConfig(mode="analog", layers=[32], epochs=3, validation=200, n_train=700, n_test=100, seed=2), progress=False)
    assert again.history[-1]["validation_accuracy"] == history[-1]["validation_accuracy"]
    with pytest.raises(NeuroffError, match="--validation between 1 and 699"):
        engine.train(FFConfig(mode="analog", layers=[8], epochs=1, validation=700, n_train=700), progress=False)


def test_hard_negatives_follow_the_scores_and_never_the_true_label():
    from neuroff.data.pairing import hard_wrong_labels

    labels = torch.tensor([0, 1, 2] * 200)
    scores = torch.zeros(600, 4)
    scores[:, 3] = 1.0  # the network confuses every sample with class 3
    drawn = hard_wrong_labels(labels, scores, sharpness=10.0, generator=torch.Generator().manual_seed(0))
    assert not torch.any(drawn == labels)
    assert float((drawn == 3).float().mean()) > 0.99  # softmax(10 * score) puts e^10 : 1 on class 3
    flat = hard_wrong_labels(labels, torch.zeros(600, 4), sharpness=10.0, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(flat[labels == 0], minlength=4)
    assert counts[0] == 0 and counts[1:].min() > 40  # equal scores: uniform over the wrong labels


def test_hard_negatives_train_and_differ_from_uniform_after_the_first_epoch():
    common = dict(mode="analog", layers=[32], analog_lr=0.003, epochs=2, n_train=300, n_test=100, seed=1)
    hard = engine.train(FFConfig(negatives="hard", **common), progress=False)
    uniform = engine.train(FFConfig(**common), progress=False)
    one_epoch = [engine.train(FFConfig(**{**common, "epochs": 1}, negatives=n), progress=False) for n in ("hard", "uniform")]
    assert torch.equal(one_epoch[0].model.weights[0], one_epoch[1].model.weights[0])  # epoch 1 is uniform in both
    assert not torch.equal(hard.model.weights[0], uniform.model.weights[0])
    assert hard.history[-1]["test_accuracy"] > 0.3


def test_deeper_spiking_layers_start_scaled_to_their_input_rate():
    """init_rate_scaling: layer 1's weights are scaled by sqrt(r_0 / r_1) > 1 (its input, layer 0's
    spikes, is sparser than the pixels), on a stream of its own: layer 0 and the training
    generator are exactly as without it, and a one-layer net is untouched."""
    ds = load_dataset("digits", seed=0).subset(300, 50)
    scaled = engine.create(FFConfig(layers=[64, 64]), ds)
    plain = engine.create(FFConfig(layers=[64, 64], init_rate_scaling=False), ds)
    assert torch.equal(scaled.model.weights[0], plain.model.weights[0])
    assert torch.equal(scaled.generator.get_state(), plain.generator.get_state())
    factor = float(scaled.model.weights[1].abs().sum() / plain.model.weights[1].abs().sum())
    assert factor > 2.0
    active = [engine.layer_activity(t, ds.x_train[:100], ds.y_train[:100])[1] for t in (scaled, plain)]
    assert active[0] > active[1]
    one = [engine.create(FFConfig(layers=[64], init_rate_scaling=s), ds).model.weights[0] for s in (True, False)]
    assert torch.equal(*one)


@pytest.mark.parametrize("mode", ["spiking-online", "analog"])
def test_accuracy_by_score_layers_matches_training_with_that_choice(mode: str, digits: Dataset) -> None:
    """Each entry is the accuracy a model would report with --score-layers set to that set (the
    same weights: score_layers changes the read-out only), and the model's own choice is restored."""
    config = _config(mode, layers=[24, 16], epochs=1)
    trained = engine.train(config, dataset=digits, progress=False)
    x, y = digits.x_test[:80], digits.y_test[:80]
    by_set = engine.accuracy_by_score_layers(trained, x, y)
    assert list(by_set) == ["0", "1", "0,1"]
    assert trained.model.config.score_layers is None
    assert by_set["0,1"] == engine.evaluate(trained, x, y)
    only_last = engine.train(_config(mode, layers=[24, 16], epochs=1, score_layers=[1]), dataset=digits, progress=False)
    assert by_set["1"] == engine.evaluate(only_last, x, y)
    assert len(set(by_set.values())) > 1  # the sets really are scored differently
    assert engine.accuracy_by_score_layers(trained, x, y, sets=[(1,)]) == {"1": by_set["1"]}
    with pytest.raises(NeuroffError, match="scores its own way"):
        engine.accuracy_by_score_layers(engine.create(FFConfig(rule="intff", layers=[8, 8], n_train=50), digits), x, y)
    with pytest.raises(NeuroffError, match="scores its own way"):  # has the FF stack's layer_scores, but no head: probed
        engine.accuracy_by_score_layers(engine.create(FFConfig(rule="scff", mode="spiking", layers=[8, 8], n_train=50), digits), x, y)
    empty = engine.accuracy_by_score_layers(trained, x[:0], y[:0])
    assert list(empty) == ["0", "1", "0,1"] and all(v != v for v in empty.values())  # NaN, as evaluate gives


def test_accuracy_by_eval_repeats_matches_evaluate_with_that_many_presentations(digits: Dataset) -> None:
    """Within one batch the nested read-out draws the presentations evaluate draws, so each entry is
    the accuracy `--eval-repeats R` reports; the presentations really are noisy (R changes the
    scores), bad R are refused, and no samples give NaN."""
    trained = engine.train(_config("spiking-online", layers=[24], epochs=1), dataset=digits, progress=False)
    x, y = digits.x_test[:120], digits.y_test[:120]
    by_repeats = engine.accuracy_by_eval_repeats(trained, x, y, [1, 2, 5])
    for r, accuracy in by_repeats.items():
        assert accuracy == engine.evaluate(replace(trained, config=replace(trained.config, eval_repeats=r)), x, y)
    one = engine.candidate_scores(trained, x)
    five = engine.candidate_scores(replace(trained, config=replace(trained.config, eval_repeats=5)), x)
    assert not torch.allclose(one, five)
    with pytest.raises(NeuroffError, match=">= 1"):
        engine.accuracy_by_eval_repeats(trained, x, y, [0, 3])
    with pytest.raises(NeuroffError, match="scores its own way"):  # a probe does not average presentations
        engine.accuracy_by_eval_repeats(engine.create(FFConfig(rule="scff", mode="spiking", layers=[8], n_train=50), digits), x, y, [1, 3])
    assert all(v != v for v in engine.accuracy_by_eval_repeats(trained, x[:0], y[:0], [1, 3]).values())


def test_choose_eval_repeats_takes_the_most_accurate_and_ties_go_to_fewer_presentations():
    assert engine.choose_eval_repeats({1: 0.80, 5: 0.83, 10: 0.82}) == 5
    assert engine.choose_eval_repeats({1: 0.80, 5: 0.83, 10: 0.83}) == 5
    assert engine.choose_eval_repeats({10: 0.9, 3: 0.9}) == 3


def test_split_dataset_is_the_split_train_holds_out(digits: Dataset) -> None:
    config = _config("spiking-hard-validation")
    train_part, val_part = engine.split_dataset(config, digits)
    assert train_part.n_train == 200 - 50 and val_part.n_train == 200 - 50 and len(val_part.y_test) == 50
    assert torch.equal(train_part.x_test, digits.x_test[:50])  # the real test split stays with the kept samples
    # no held-out sample is trained on, and the split is the seed's (another seed holds out others)
    kept = {tuple(row.tolist()) for row in train_part.x_train}
    assert not any(tuple(row.tolist()) in kept for row in val_part.x_test)
    other = engine.split_dataset(replace(config, seed=1), digits)[1]
    assert not torch.equal(other.x_test, val_part.x_test)
    # without --validation nothing is held out
    whole, none = engine.split_dataset(replace(config, validation=0), digits)
    assert none is None and whole.n_train == 200


def test_a_direct_input_net_is_scored_once_whatever_the_repeats(digits: Dataset) -> None:
    """The direct input draws nothing, so R presentations are R copies of the first: the read-out
    scores it once and gives every R the same scores (with spikes, R = 3 differs from R = 1)."""
    ds = digits.subset(200, 50)
    for encoder, same in (("direct", True), ("rate", False)):
        trained = engine.create(FFConfig(dataset="digits", layers=[16], encoder=encoder, seed=0).validate(), ds)
        calls, score = [], trained.model.candidate_scores
        trained.model.candidate_scores = lambda *a: calls.append(1) or score(*a)  # counts the presentations
        by_r = engine.scores_by_repeats(trained, ds.x_test, [1, 3])
        assert torch.equal(by_r[1], by_r[3]) == same, encoder
        assert len(calls) == (1 if same else 3), encoder


@pytest.mark.parametrize("mode", ["spiking-hard-validation", "analog"])
def test_reading_the_test_set_during_training_does_not_change_what_is_learned(mode: str, digits: Dataset) -> None:
    """The read-outs draw from their own generator: a run that tests after every epoch and one that
    tests after its last only (the bench's final runs) end with the same weights and test accuracy."""
    every = engine.train(_config(mode, epochs=2, eval_every=1), dataset=digits, progress=False)
    last = engine.train(_config(mode, epochs=2, eval_every=2), dataset=digits, progress=False)
    _assert_same_state(every, last)
    assert every.history[-1]["test_accuracy"] == last.history[-1]["test_accuracy"]
