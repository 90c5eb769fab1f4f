"""What an export target can represent, checked once for every exporter before any work.

A target runs the plain LIF stack (``SpikingFFNet``: CUBA-style LIF layers, dense weights, the
inputs as spikes). Each ``Target`` states the neuron features it has; ``check_exportable``
refuses, by name and with the fix, anything a checkpoint uses that the target lacks."""

from __future__ import annotations

from dataclasses import dataclass

from neuroff.engine.training import SILENT_BELOW, Trained
from neuroff.errors import NeuroffError
from neuroff.layers.lif_stack import SpikingFFNet


@dataclass(frozen=True)
class Target:
    name: str
    reset_note: str  # how the target resets, for the message
    refractory_note: str  # why it has no refractory period
    beta_below_one: bool  # True: beta = 1 (no leak) cannot be written (NIR's tau = dt / (1 - beta))


LOIHI = Target("Loihi", "Loihi's CUBA neuron resets to zero", "Lava's bit-accurate LIF has no refractory period", False)
NIR = Target("NIR", "NIR's LIF resets to v_reset", "NIR's LIF has no refractory period", True)


def check_exportable(trained: Trained, target: Target) -> SpikingFFNet:
    """The spiking model of ``trained``, or a NeuroffError naming what ``target`` cannot run."""
    c = trained.config
    if not isinstance(trained.model, SpikingFFNet):
        raise NeuroffError(f"{target.name} export needs a spiking network; this checkpoint is --rule {c.rule} --mode {c.mode} (train with --mode spiking)")
    if c.encoder == "direct":
        raise NeuroffError(
            f"{target.name} export presents the inputs as spikes; this network was trained on the graded input of "
            "--encoder direct (retrain with --encoder rate or latency)"
        )
    if c.reset != "zero":
        raise NeuroffError(f"{target.reset_note}; this network uses reset={c.reset!r} (retrain with --reset zero)")
    if c.scff_centre:
        raise NeuroffError(f"the centred input of --scff-centre (feedforward inhibition) has no {target.name} mapping yet; retrain without it")
    if c.refractory:
        raise NeuroffError(f"{target.refractory_note}; this network uses refractory={c.refractory} (retrain with --refractory 0)")
    upper_ok = c.beta < 1.0 if target.beta_below_one else c.beta <= 1.0
    if not (0.0 <= c.beta and upper_ok):
        bound = "[0, 1)" if target.beta_below_one else "[0, 1]"
        raise NeuroffError(f"membrane decay beta={c.beta} must lie in {bound} to map onto {target.name}")
    return trained.model


def check_layers_active(trained: Trained, target: Target, allow_silent: bool = False) -> None:
    """Refuse a network with a silent layer (its export would be exact and useless), judged by the
    ``layer_activity`` its training recorded last (checkpoints without it are not judged)."""
    activity = trained.history[-1].get("layer_activity") if trained.history else None
    if allow_silent or not activity:
        return
    for i, a in enumerate(activity):
        if a < SILENT_BELOW:
            raise NeuroffError(
                f"layer {i} is silent ({a:.2%} of its neurons active at the end of training); a {target.name} export "
                "would reproduce a network that does not compute; retrain it, or pass --allow-silent"
            )
