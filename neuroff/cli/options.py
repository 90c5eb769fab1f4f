"""Command-line options generated from the option dataclasses: one argument group per component
(run, label embedding, neuron, encoder, head, plasticity, each family...), each flag with the help
text, unit, choices and default declared on its field, so CLI, config files and checkpoints cannot
drift apart."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, fields
from typing import Any

from neuroff.engine.options import ALL_GROUPS, FFConfig, load_config_file
from neuroff.families.registry import FAMILIES
from neuroff.options import OptionGroup, flag
from neuroff.presets import load_preset


def positive_int_list(example: str, what: str):
    """An argparse type for a comma list of positive integers; ``example`` and ``what`` word its errors
    (``positive_int_list("200,200", "sizes")`` for --layers)."""

    def parse(text: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. {example}") from None
        if not values or any(v < 1 for v in values):
            raise argparse.ArgumentTypeError(f"{text!r}: {what} must be positive integers, e.g. {example}")
        return values

    return parse


int_list = positive_int_list("200,200", "sizes")


def index_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of layer indices") from None


def float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers, e.g. 4,6") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: give one number per layer, e.g. 4,6")
    return values


def boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (true/false)")


def _kind(f: Field) -> dict[str, Any]:
    """argparse type/metavar of a field, from its declared type."""
    declared = str(f.type).removesuffix(" | None")  # None is "unset" (the family's default), never typed
    if declared.startswith("list[int]"):
        return {"type": int_list if f.name == "layers" else index_list, "metavar": "N,N,..."}
    if declared.startswith("list[float]"):
        return {"type": float_list, "metavar": "X,X,..."}
    if declared == "bool":
        return {"type": boolean, "metavar": "true|false"}
    if declared.startswith("int"):
        return {"type": int, "metavar": "N"}
    if declared == "float":
        return {"type": float, "metavar": "X"}
    return {"metavar": None}


def _help(f: Field) -> str:
    meta = f.metadata
    text = meta.get("help", "")
    if meta.get("unit"):
        text += f" [{meta['unit']}]"
    default = f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default  # type: ignore[misc]
    if default is not None:
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        text += f" (default: {shown})"
    else:
        by_family = [f"{fam.name} {key.replace(':', ' ')} {values[f.name]}" for fam in FAMILIES.values()
                     for key, values in fam.defaults.items() if f.name in values]  # fmt: skip
        if by_family:
            text += f" (default: {'; '.join(by_family)})"
    return text.replace("%", "%%")


def add_option_groups(parser: argparse.ArgumentParser, groups: tuple[type[OptionGroup], ...] = ALL_GROUPS) -> None:
    """One argument group per option dataclass; every flag defaults to None (= not given)."""
    for group in groups:
        arguments = parser.add_argument_group(f"{group.title} options")
        for f in fields(group):
            kind = _kind(f)
            choices = f.metadata.get("choices")
            arguments.add_argument(flag(f.name), dest=f.name, default=None, help=_help(f), choices=choices,
                                   type=kind.get("type"), metavar=None if choices else kind["metavar"])  # fmt: skip


def config_from_args(args: argparse.Namespace) -> tuple[FFConfig, set[str]]:
    """The (unvalidated) config of a command line and the names of the options it sets: the
    preset's, overridden by the config file's, overridden by the flags given."""
    data: dict[str, Any] = load_preset(args.preset) if getattr(args, "preset", None) else {}
    data |= load_config_file(args.config) if getattr(args, "config", None) else {}
    for f in fields(FFConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            data[f.name] = value
    return FFConfig.from_dict(data), set(data)
