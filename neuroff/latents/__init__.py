"""Latent-distribution comparison of trained models (e.g. a spiking network and its analog
twin): collection of per-layer latents (``collection``), pure metrics (``metrics``), figures
(``plots``) and the report that ``neuroff compare`` writes (``report``). See docs/latents.md."""

from neuroff.latents.collection import (
    LatentSet,
    ModelLatents,
    collect,
    collect_latents,
    load_latents,
    save_latents,
)
from neuroff.latents.report import build_report, compare, markdown_report

__all__ = [
    "LatentSet",
    "ModelLatents",
    "build_report",
    "collect",
    "collect_latents",
    "compare",
    "load_latents",
    "markdown_report",
    "save_latents",
]
