"""Block specifications of Integrated Forward-Forward: nested layer sizes, parsed and shape-checked.

A network is written as its input followed by its blocks ("hidden units" of IntFF); each block
is one layer or a parenthesised group of layers trained together by backprop:

    spec   := input "," block ("," block)*
    input  := D | HxW | CxHxW                e.g. 784, 28x28, 1x28x28
    block  := layer | "(" layer ("," layer)* ")"
    layer  := N                              dense: N ReLU units
            | "c" C "k" K ["s" S] ["p" P]    conv: C channels, K x K kernel, stride S (1),
                                             zero padding K // 2, ReLU, then P x P max-pool (1)

    784,(200,200,200),(50,50)                two dense blocks of three and two layers
    1x28x28,(c16k5p2,c32k3p2),(100)          a conv block, then a dense block
    64,32,32                                 plain FF: three one-layer blocks

A dense layer after a conv layer sees the flattened feature map; a conv layer cannot follow a
dense one. Conv layers need the image shape as the input item. Whitespace is ignored. The
module is pure: it parses text and propagates shapes; ``neuroff.families.intff.model`` builds the layers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from neuroff.errors import NeuroffError

EXAMPLE = "784,(200,200,200),(50,50)"
_CONV = re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?")


@dataclass(frozen=True)
class Dense:
    units: int


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int
    stride: int = 1
    pool: int = 1


Layer = Dense | Conv
Shape = tuple[int, ...]  # (D,) for dense activity, (C, H, W) for feature maps


@dataclass(frozen=True)
class BlockSpec:
    input_shape: Shape
    blocks: tuple[tuple[Layer, ...], ...]

    @property
    def layers(self) -> list[Layer]:
        return [layer for block in self.blocks for layer in block]

    @property
    def n_inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def has_conv(self) -> bool:
        return any(isinstance(layer, Conv) for layer in self.layers)


def _fail(text: str, problem: str) -> NeuroffError:
    return NeuroffError(f"--blocks {text!r}: {problem}; write e.g. {EXAMPLE} or 1x28x28,(c16k5p2),(100)")


def _split_top(text: str, s: str) -> list[str]:
    """Split at the commas outside parentheses, checking that parentheses balance and do not nest."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch == "(":
            depth += 1
            if depth > 1:
                raise _fail(text, "blocks cannot nest (one level of parentheses per block)")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _fail(text, f"unmatched ')' at character {i + 1}")
        elif ch == "," and depth == 0:
            items.append(s[start:i])
            start = i + 1
    if depth:
        raise _fail(text, "unclosed '('")
    items.append(s[start:])
    if any(not item for item in items):
        raise _fail(text, "empty item between commas")
    return items


def _positive(text: str, value: str, what: str) -> int:
    n = int(value)
    if n < 1:
        raise _fail(text, f"{what} must be >= 1, got {n}")
    return n


def _parse_input(text: str, item: str) -> Shape:
    parts = item.split("x")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise _fail(text, f"the first item {item!r} must be the input size D, HxW or CxHxW")
    dims = tuple(_positive(text, p, "an input dimension") for p in parts)
    return (1, *dims) if len(dims) == 2 else dims


def _parse_layer(text: str, item: str) -> Layer:
    if item.isdigit():
        return Dense(_positive(text, item, "a layer size"))
    m = _CONV.fullmatch(item)
    if m is None:
        raise _fail(text, f"layer {item!r} is neither a unit count (200) nor a conv layer c<C>k<K>[s<S>][p<P>]")
    c, k, s, p = (_positive(text, v, "a conv parameter") if v is not None else 1 for v in m.groups())
    return Conv(c, k, s, p)


def parse_blocks(text: str) -> BlockSpec:
    """Parse a block specification (see the module docstring) and check its shapes."""
    if not isinstance(text, str) or not "".join(text.split()):
        raise _fail(str(text), "the specification is empty")
    s = "".join(text.split()).lower()
    items = _split_top(text, s)
    if len(items) < 2:
        raise _fail(text, "it needs the input size and at least one block")
    if items[0].startswith("("):
        raise _fail(text, "the first item must be the input size, not a block")
    blocks = []
    for item in items[1:]:
        if item.startswith("(") != item.endswith(")"):
            raise _fail(text, f"block {item!r} has text outside its parentheses")
        inner = item[1:-1] if item.startswith("(") else item
        if not inner:
            raise _fail(text, "empty block ()")
        blocks.append(tuple(_parse_layer(text, part) for part in _split_top(text, inner)))
    spec = BlockSpec(_parse_input(text, items[0]), tuple(blocks))
    layer_shapes(spec, text)
    return spec


def blocks_from_layers(n_inputs: int, layers: list[int]) -> BlockSpec:
    """One dense layer per block: plain FF written as IntFF."""
    return BlockSpec((n_inputs,), tuple((Dense(int(n)),) for n in layers))


def conv_output_shape(layer: Conv, in_shape: Shape) -> Shape:
    """(C, H, W) after the conv (padding K // 2, stride S) and the P x P max-pool (floor)."""
    pad = layer.kernel // 2
    h, w = ((n + 2 * pad - layer.kernel) // layer.stride + 1 for n in in_shape[1:])
    return (layer.channels, h // layer.pool, w // layer.pool)


def layer_shapes(spec: BlockSpec, text: str = "") -> list[Shape]:
    """Output shape of every layer, in order; raises on a conv after a dense layer, on conv layers
    without an image input, and on a feature map that shrinks to nothing."""
    text = text or format_blocks(spec)
    shape, out = spec.input_shape, []
    for layer in spec.layers:
        if isinstance(layer, Dense):
            shape = (layer.units,)
        elif len(shape) != 3:
            where = "the input is a flat vector (give it as CxHxW)" if not out else "it cannot follow a dense layer"
            raise _fail(text, f"conv layer {format_layer(layer)}: {where}")
        else:
            shape = conv_output_shape(layer, shape)
            if min(shape[1:]) < 1:
                raise _fail(text, f"conv layer {format_layer(layer)} shrinks the image to {shape[1:]}")
        out.append(shape)
    return out


def format_layer(layer: Layer) -> str:
    if isinstance(layer, Dense):
        return str(layer.units)
    s = f"c{layer.channels}k{layer.kernel}"
    return s + (f"s{layer.stride}" if layer.stride != 1 else "") + (f"p{layer.pool}" if layer.pool != 1 else "")


def format_blocks(spec: BlockSpec) -> str:
    """The canonical text of a spec; ``parse_blocks(format_blocks(s)) == s``."""
    head = "x".join(str(n) for n in spec.input_shape)
    return ",".join([head, *("(" + ",".join(format_layer(layer) for layer in block) + ")" for block in spec.blocks)])
