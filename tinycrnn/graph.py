"""The layer graph: layer specs wired together by named values, checked once at load, run in order.

Each layer reads the values named in its ``inputs`` list and writes the value named by its ``output``
(format_version 2). A layer without ``inputs`` reads the previous layer's output (the first one reads
the model input), and a layer without ``output`` writes a value named after its index, so a
format_version 1 chain is the special case where no layer names anything. Layers are stored in
topological order: a layer may only read values written above it, which the loader checks, so
running the graph is one pass down the list. Each value is dropped right after its last reader,
which keeps peak memory near the chain's; elementwise layers (affine, act, add, se) write into
their first input's buffer when that value dies there (fresh multi-megabyte buffers cost page
faults on every page). An affine layer that is an FP32 conv's only reader runs in that conv's epilogue
(:func:`fuse_affines`), so the run list can be shorter than the layer list.
"""
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from .errors import WeightFormatError

Shape = Tuple[int, ...]


class Graph:
    """Ops in run order with their value names; built by :func:`build_graph`."""

    def __init__(self, input_name: str, nodes: List[Tuple[Any, List[str], str]], outputs: List[str]):
        self.input_name = input_name
        self.nodes = nodes  # (op, input value names, output value name)
        self.outputs = outputs
        last: Dict[str, int] = {}
        for k, (_, ins, _) in enumerate(nodes):
            for v in ins:
                last[v] = k
        # values to drop after layer k: read for the last time there and not a graph output
        self.free_after: List[List[str]] = [[] for _ in nodes]
        for v, k in last.items():
            if v not in outputs:
                self.free_after[k].append(v)
        # layer k may write into its first input's buffer: that value dies at k, is read once there and
        # is not the caller's array (the model input); ops opt in with ``call_donated``
        self.donate = [hasattr(op, "call_donated") and ins[0] in self.free_after[k] and ins[0] != input_name
                       and ins.count(ins[0]) == 1 for k, (op, ins, _) in enumerate(nodes)]
        #: the layers whose global mean can count virtual blank columns (squeeze-and-excitation: ``padded``)
        self.squeezes = [hasattr(op, "padded") for op, _, _ in nodes]

    @property
    def ops(self) -> List[Any]:
        return [op for op, _, _ in self.nodes]

    def shapes(self, in_shape: Shape) -> Dict[str, Shape]:
        """Every value's per-item shape for a model input of ``in_shape`` (no compute)."""
        shapes = {self.input_name: in_shape}
        for op, ins, out in self.nodes:
            args = [shapes[v] for v in ins]
            shapes[out] = op.out_shape(args) if op.multi_input else op.out_shape(args[0])
            if min(shapes[out], default=1) < 1:
                shapes[out] = tuple(0 for _ in shapes[out])
        return shapes

    def run(self, x: np.ndarray, squeeze_width: int = 0, record=None) -> np.ndarray:
        """Run every layer in order on a batch; returns the first output value.

        ``squeeze_width``: layers with a ``padded`` method (squeeze-and-excitation, :mod:`tinycrnn.ops.se`) take their
        global mean as if ``x`` were blank-padded on the right to that many columns, scaled to each layer's map.
        ``record``: a dict that receives those layers' inputs by layer name (how their blank columns are found)."""
        values = {self.input_name: x}
        x_w = x.shape[-1]
        for k, (op, ins, out) in enumerate(self.nodes):
            args = [values[v] for v in ins]
            if record is not None and self.squeezes[k]:
                record[op.name] = args[0].copy()
            if squeeze_width > x_w and self.squeezes[k]:
                map_w = args[0].shape[-1]
                values[out] = op.padded(args[0], squeeze_width * map_w // x_w - map_w, self.donate[k])
            elif self.donate[k]:
                values[out] = op.call_donated(*args)
            else:
                values[out] = op(*args) if op.multi_input else op(args[0])
            for v in self.free_after[k]:
                del values[v]
        return values[self.outputs[0]]


def wire(layers: Sequence[Mapping[str, Any]], input_name: str) -> List[Tuple[List[str], str]]:
    """Each layer's (input value names, output value name), defaults filled in, order checked."""
    defined = {input_name}
    prev = input_name
    wired = []
    for i, spec in enumerate(layers):
        ins = list(spec.get("inputs") or [prev])
        out = spec.get("output") or f"#{i}"
        for v in ins:
            if v not in defined:
                raise WeightFormatError(
                    f"layer {i} ({spec.get('op')} {spec.get('name', '')}) reads value {v!r} before any layer writes it "
                    "(layers must be listed in topological order)")
        if out in defined:
            raise WeightFormatError(f"layer {i} ({spec.get('op')} {spec.get('name', '')}) writes value {out!r} twice")
        defined.add(out)
        wired.append((ins, out))
        prev = out
    return wired


def build_graph(arch: Mapping[str, Any], tensors: Mapping[str, np.ndarray], in_shape: Shape, kernels,
                label: str) -> Tuple[Graph, Dict[str, Shape], set]:
    """Build every op against the shapes flowing through the graph for a probe input ``in_shape``.

    Returns the graph, each value's probe shape and the tensor names the ops used.

    Raises:
        WeightFormatError: a value read before it is written, a layer whose output nobody reads, an
            empty shape, or anything an op's own checks reject.
    """
    from .ops import get_op

    input_name = arch["input"].get("name", "input")
    layers = arch["layers"]
    if not layers:
        raise WeightFormatError(f"{label}: arch.layers is empty")
    wired = wire(layers, input_name)
    outputs = list(arch.get("outputs") or [wired[-1][1]])
    shapes: Dict[str, Shape] = {input_name: in_shape}
    nodes = []
    used: set = set()
    read = set(outputs)
    for i, (spec, (ins, out)) in enumerate(zip(layers, wired)):
        cls = get_op(spec["op"])
        args = [shapes[v] for v in ins]
        if not cls.multi_input and len(ins) != 1:
            raise WeightFormatError(f"{label}: layer {i} ({spec['op']}) takes one input, got {len(ins)}")
        op = cls(spec, tensors, args if cls.multi_input else args[0], kernels)
        shapes[out] = op.out_shape(args) if cls.multi_input else op.out_shape(args[0])
        if min(shapes[out], default=1) < 1:
            raise WeightFormatError(f"{label}: layer {i} ({spec['op']} {op.name}) produces empty shape {shapes[out]}")
        used |= op.used
        read.update(ins)
        nodes.append((op, ins, out))
    for v in outputs:
        if v not in shapes:
            raise WeightFormatError(f"{label}: arch.outputs names {v!r}, which no layer writes")
    dead = [out for _, _, out in nodes if out not in read]
    if dead:
        raise WeightFormatError(f"{label}: values written but never read (dead layers): {', '.join(dead[:5])}")
    return Graph(input_name, fuse_affines(nodes, outputs), outputs), shapes, used


def fuse_affines(nodes: List[Tuple[Any, List[str], str]], outputs: Sequence[str]) -> List[Tuple[Any, List[str], str]]:
    """Fold each ``affine`` layer whose only input is an FP32 conv's value, read by nothing else, into that
    conv (``op.post``; the conv then writes the affine's value), so the affine costs no pass of its own.

    Same arithmetic per element (act(conv + bias), then * scale + shift); PP-OCRv4's detector has 14."""
    readers: Dict[str, int] = {}
    for _, ins, _ in nodes:
        for v in ins:
            readers[v] = readers.get(v, 0) + 1
    producer = {out: op for op, _, out in nodes}
    fused: Dict[str, str] = {}  # conv value -> affine value it now writes
    keep = []
    for op, ins, out in nodes:
        src = producer.get(ins[0])
        if (op.kind == "affine" and getattr(src, "kind", "") == "conv2d" and getattr(src, "quant", "") == "none"
                and getattr(src, "post", 0) is None and readers[ins[0]] == 1 and ins[0] not in outputs):
            src.post = (op.scale, op.shift)
            fused[ins[0]] = out
            continue
        keep.append((op, ins, out))
    return [(op, ins, fused.get(out, out)) for op, ins, out in keep]
