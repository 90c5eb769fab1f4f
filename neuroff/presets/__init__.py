"""Named presets: the best configurations found per dataset, each a JSON file here with a
``description`` (how it was chosen, validation and test accuracy, the command) and its
``options`` (FFConfig keys). ``neuroff train --preset NAME``; a config file and flags override it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from neuroff.errors import NeuroffError


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in resources.files(__package__).iterdir() if p.name.endswith(".json"))


def load_preset(name: str) -> dict[str, Any]:
    """The options of preset ``name``."""
    if name not in preset_names():
        raise NeuroffError(f"unknown preset {name!r}; use one of {', '.join(preset_names())}")
    data = json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text())
    return dict(data["options"])


def preset_description(name: str) -> str:
    load_preset(name)  # the same error for an unknown name
    return str(json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text())["description"])
