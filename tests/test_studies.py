"""The studies behind the bench scripts (neuroff.studies.probes, .head, .memory) on digits:
per-layer features and probes of trained and random nets, the contrastive-Hebbian rule's features
vs backprop's, the Hebbian-descent head on frozen features, and peak training memory."""

from __future__ import annotations

import pytest
import torch

from neuroff import engine
from neuroff.engine.options import FFConfig
from neuroff.data import Dataset, load_dataset
from neuroff.errors import NeuroffError
from neuroff.studies.head import prototype_accuracy, train_head
from neuroff.studies.memory import TrainingMemory, tensor_bytes, training_memory_in_fresh_process, training_step
from neuroff.studies.probes import layer_features, probe_accuracies, probe_trained_and_random, rule_vs_backprop_features

CHANCE = 0.1  # ten digit classes


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", seed=0)


def test_layer_features_of_every_layer_with_the_model_left_as_it_is(digits):
    ff = engine.create(FFConfig(mode="analog", layers=[32, 16], seed=0), digits)
    feats = layer_features(ff, digits.x_test[:70], batch=32)  # three forward passes, one of them partial
    assert [tuple(f.shape) for f in feats] == [(70, 32), (70, 16)]
    # the same latents as the engine's read-out, which concatenates them
    assert torch.allclose(torch.cat(feats, 1), engine.readout_features(ff, digits.x_test[:70]))
    # an SCFF net that reads out layer 1 only (--score-layers 1) still gives both, and keeps reading out layer 1
    scff = engine.create(FFConfig(rule="scff", embedding="none", mode="analog", layers=[12, 8], batch_size=8, score_layers=[1]), digits)
    assert [f.shape[1] for f in layer_features(scff, digits.x_test[:5])] == [12, 8]
    assert scff.model.probe_layers == [1]
    last = layer_features(ff, digits.x_test[:70], layers=[-1])
    assert len(last) == 1 and torch.equal(last[0], feats[1])
    with pytest.raises(NeuroffError, match="at least one sample"):
        layer_features(ff, digits.x_test[:0])
    with pytest.raises(NeuroffError, match="out of range"):
        layer_features(ff, digits.x_test[:5], layers=[2])


def test_per_layer_probe_of_a_trained_analog_ff_net_beats_chance_on_every_layer(digits):
    config = FFConfig(mode="analog", layers=[32, 16], epochs=1, batch_size=16, n_train=600, n_test=300, seed=0)
    result = probe_trained_and_random(config, digits, combined=True, progress=False)
    for probes in (result.probe_trained, result.probe_random):
        assert len(probes.per_layer) == 2 and probes.combined is not None
        assert all(0.0 <= a <= 1.0 for a in [*probes.per_layer, probes.combined])
    assert min(result.probe_trained.per_layer) > 5 * CHANCE
    assert result.trained.epoch == 1 and result.train_seconds > 0
    # the probe settings are the run's unless given; one layer alone has no combined probe
    one = engine.create(FFConfig(mode="analog", layers=[16], seed=0), digits.subset(300, 100))
    single = probe_accuracies(one, digits.subset(300, 100), combined=True, solver="adam", epochs=2)
    assert len(single.per_layer) == 1 and single.combined is None


def test_contrastive_hebbian_training_lowers_its_layer_losses_and_backprop_features_become_decodable(digits):
    config = FFConfig(rule="contrastive-hebbian", mode="analog", embedding="none", layers=[32], batch_size=32, seed=0, ch_eta=0.01)
    before, after = rule_vs_backprop_features(config, steps=20, dataset=digits, n_loss_samples=128)
    assert (before.steps, after.steps) == (0, 20)
    assert len(before.layer_losses) == len(after.layer_losses) == 1
    assert after.layer_losses[0] < before.layer_losses[0]  # the rule minimises exactly this loss
    assert after.probe_rule > 5 * CHANCE and after.probe_backprop > 5 * CHANCE
    with pytest.raises(NeuroffError, match="training samples"):
        rule_vs_backprop_features(config, steps=1000, dataset=digits)
    with pytest.raises(NeuroffError, match="contrastive-Hebbian"):
        rule_vs_backprop_features(FFConfig(mode="analog", layers=[8], batch_size=8), steps=1, dataset=digits)


def test_prototype_classifier_compares_directions_not_magnitudes():
    f_train = torch.tensor([[10.0, 0.0], [12.0, 0.0], [0.1, 0.1], [0.1, 0.1]])
    y_train = torch.tensor([0, 0, 1, 1])
    # [1, 1.2] is closer in direction to class 1's mean (1, 1)/√2 than to class 0's (1, 0), though class 0's mean is far longer
    assert prototype_accuracy(f_train, y_train, torch.tensor([[1.0, 1.2], [3.0, 0.5]]), torch.tensor([1, 0]), 2) == 1.0
    with pytest.raises(NeuroffError, match="at least one training sample"):
        prototype_accuracy(f_train, y_train, f_train, y_train, 3)


@pytest.mark.parametrize("meta_learned", [False, True])
def test_hebbian_descent_head_learns_frozen_features_and_decays_its_rate_from_the_second_epoch(digits, meta_learned):
    f_train, f_test = digits.x_train, digits.x_test  # the pixels as frozen features
    args = (f_train, digits.y_train, f_test, digits.y_test, digits.n_classes)
    constant = train_head(*args, epochs=3, eta=0.01, meta_learned=meta_learned)
    decayed = train_head(*args, epochs=3, eta=0.01, eta_decay=0.3, meta_learned=meta_learned)
    assert len(constant) == len(decayed) == 3
    assert constant[-1] > 0.8
    assert constant[0] == decayed[0] and constant[1:] != decayed[1:]  # epoch 0 at eta itself, then eta × 0.3^k
    with pytest.raises(NeuroffError, match="eta_decay"):
        train_head(*args, epochs=1, eta_decay=1.5)


@pytest.mark.parametrize("method", ["contrastive-hebbian", "backprop-sgd-momentum"])
def test_resting_state_counts_weights_optimiser_state_and_pending_updates(digits, method):
    sizes = {}
    for layers in ([16], [64, 32]):
        step, resting_state = training_step(method, digits, layers, batch_size=32, seed=0)
        step(digits.x_train[:32], digits.y_train[:32])
        sizes[len(layers)] = resting_state()
        weights = sum(n_out * n_in + n_out for n_in, n_out in zip([64, *layers], [*layers, 10]))
        if method == "contrastive-hebbian":  # weights and pending updates; C's per neuron, with Adam's two moments
            c_s = sum(n_out + n_in for n_in, n_out in zip([64, *layers], [*layers, 10]))
            expected = 4 * (2 * weights + 3 * c_s)
        else:  # weights, their gradients and SGD's momentum
            expected = 4 * 3 * weights
        assert expected <= sizes[len(layers)] <= expected + 64  # + the optimiser's step counters
    assert sizes[2] > sizes[1]
    with pytest.raises(NeuroffError, match="unknown method"):
        training_step("sgd", digits, [4], 8, 0)
    assert tensor_bytes([torch.zeros(3, dtype=torch.float64), torch.zeros(2, dtype=torch.int8)]) == 26


def test_peak_training_memory_in_a_fresh_process_sees_the_rules_weight_sized_temporaries():
    r = training_memory_in_fresh_process("contrastive-hebbian", "digits", [1000, 1000], steps=2, batch_size=32)
    assert isinstance(r, TrainingMemory) and r.method == "contrastive-hebbian"
    weight = 1000 * 1000 * 4  # bytes of the 1000×1000 layer's weights
    assert r.resting_state > 2 * weight  # its weights and pending update at least
    assert r.training_extra >= weight  # the fused weight step keeps one weight-sized temporary alive
    assert r.rss_before > r.resting_state and r.seconds_per_step > 0


# ---------------------------------------------------------------- selection on a validation split
def test_smallest_sufficient_epochs_picks_the_fewest_within_tolerance():
    from neuroff.studies.selection import smallest_sufficient_epochs

    curve = [0.5, 0.8, 0.85, 0.86, 0.9, 0.905]
    assert smallest_sufficient_epochs(curve, (1, 2, 3, 5, 6), tolerance=0.01) == 5
    assert smallest_sufficient_epochs(curve, (1, 2, 3), tolerance=0.1) == 2
    assert smallest_sufficient_epochs(curve, (1, 2, 30), tolerance=0.0) == 2  # 30 does not fit the curve


def test_validation_curves_never_read_the_test_split():
    from neuroff.data import Dataset
    from neuroff.studies.selection import validation_curves

    ds = load_dataset("digits", seed=0).subset(400, 100)
    scrambled = Dataset(ds.name, ds.x_train, ds.y_train, torch.rand_like(ds.x_test), (ds.y_test + 1) % 10,
                        image_shape=ds.image_shape, n_classes=ds.n_classes)
    config = FFConfig(rule="ff", mode="analog", layers=[32], epochs=2)
    a = validation_curves(config, ds, seeds=[0])
    b = validation_curves(config, scrambled, seeds=[0])
    assert a == b and len(a[0]) == 2 and a[0][-1] > 0.15  # above chance (0.1)
