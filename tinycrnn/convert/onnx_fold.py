"""Constant folding for ONNX graphs: weights from initializers and ``Constant`` nodes, a tiny NumPy
evaluator for every subgraph computed from constants alone (Paddle's gate-reordering
Slice/Concat, PyTorch's bias Reshape), abstract tracking of shape plumbing that depends on the
runtime batch size (only far enough to prove an LSTM's initial state is zero or to see that a
Reshape's target is computed from a shape), and removal of dead nodes. Both importers start here.
"""
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import WeightFormatError
from .onnx_common import attrs as _attrs
from .onnx_common import import_onnx as _import_onnx
from .onnx_common import label as _label

#: ops the constant folder evaluates when all their inputs are constants
_FOLD = {
    "Identity", "Cast", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Slice", "Concat", "Gather", "Tile",
    "Shape", "ConstantOfShape", "Expand", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt", "Range", "Flatten", "Split",
}


class _Fill:
    """A runtime-shaped tensor whose every element is ``value`` (e.g. a zero LSTM state)."""

    def __init__(self, value: float):
        self.value = value


_SHAPE = "runtime-shape"  # marker: integers derived from a runtime shape


def _eval_const(node, vals: List[Optional[np.ndarray]], at: Dict[str, Any]) -> List[np.ndarray]:
    """NumPy semantics of the foldable ops on constant inputs (enough for exporters' plumbing)."""
    op, x = node.op_type, vals[0] if vals else None
    if op in ("Identity", "Cast"):
        if op == "Cast":
            onnx, _ = _import_onnx()
            return [x.astype(onnx.helper.tensor_dtype_to_np_dtype(at["to"]))]
        return [x]
    if op == "Reshape":
        shape = [int(v) for v in vals[1]]
        shape = [x.shape[i] if v == 0 and not at.get("allowzero", 0) else v for i, v in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Flatten":
        ax = at.get("axis", 1) % max(x.ndim, 1)
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if op == "Transpose":
        return [x.transpose(at.get("perm", list(range(x.ndim))[::-1]))]
    if op in ("Unsqueeze", "Squeeze"):
        axes = at.get("axes", None if len(vals) < 2 or vals[1] is None else [int(v) for v in vals[1]])
        if op == "Squeeze":
            return [np.squeeze(x, axis=None if axes is None else tuple(a % x.ndim for a in axes))]
        nd = x.ndim + len(axes)
        y = x
        for a in sorted(a % nd for a in axes):
            y = np.expand_dims(y, a)
        return [y]
    if op == "Slice":
        starts, ends = vals[1], vals[2]
        axes = vals[3] if len(vals) > 3 and vals[3] is not None else np.arange(len(starts))
        steps = vals[4] if len(vals) > 4 and vals[4] is not None else np.ones(len(starts), np.int64)
        sl = [slice(None)] * x.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            # NOTE: Python slicing of Python ints clamps exactly as ONNX Slice does (INT64_MAX ends included)
            sl[int(a)] = slice(int(s), int(e), int(st))
        return [x[tuple(sl)]]
    if op == "Concat":
        return [np.concatenate(vals, axis=at["axis"])]
    if op == "Gather":
        return [np.take(x, vals[1].astype(np.int64), axis=at.get("axis", 0))]
    if op == "Tile":
        return [np.tile(x, [int(v) for v in vals[1]])]
    if op == "Shape":
        return [np.array(x.shape, np.int64)]
    if op == "ConstantOfShape":
        _, numpy_helper = _import_onnx()
        v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
        return [np.full([int(d) for d in x], v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Expand":
        return [x * np.ones([int(d) for d in vals[1]], x.dtype)]
    if op == "Range":
        return [np.arange(vals[0], vals[1], vals[2]).astype(vals[0].dtype)]
    if op == "Split":
        ax = at.get("axis", 0)
        split = at.get("split", None if len(vals) < 2 or vals[1] is None else [int(v) for v in vals[1]])
        if split is None:
            return list(np.split(x, len(node.output), axis=ax))
        return list(np.split(x, np.cumsum(split)[:-1], axis=ax))
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
    if op in binary:
        y = binary[op](vals[0], vals[1])
        if op == "Div" and np.issubdtype(vals[0].dtype, np.integer):
            y = vals[0] // vals[1]
        return [y.astype(np.result_type(vals[0], vals[1]))]
    if op == "Neg":
        return [-x]
    if op == "Sqrt":
        return [np.sqrt(x)]
    raise WeightFormatError(f"cannot fold {_label(node)}")


class FoldedGraph:
    """Constants folded, abstract shape plumbing tracked, dead nodes removed."""

    def __init__(self, model):
        onnx, numpy_helper = _import_onnx()
        g = model.graph
        self.consts: Dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.abstract: Dict[str, Any] = {}
        init_names = set(self.consts)
        inputs = [i for i in g.input if i.name not in init_names]
        if len(inputs) != 1 or len(g.output) != 1:
            raise WeightFormatError(
                f"ONNX graph has {len(inputs)} data inputs and {len(g.output)} outputs; tinycrnn imports one of each"
            )
        self.input = inputs[0]
        self.output = g.output[0].name
        data: List[Any] = []
        for node in g.node:
            at = _attrs(node)
            ins = list(node.input)
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self._constant_value(node, at, numpy_helper)
                continue
            present = [i for i in ins if i]
            if node.op_type in _FOLD and present and all(i in self.consts for i in present):
                vals = [self.consts[i] if i else None for i in ins]
                try:
                    outs = _eval_const(node, vals, at)
                except (ValueError, IndexError, KeyError, TypeError) as exc:
                    raise WeightFormatError(f"cannot fold constant {_label(node)}: {exc}") from None
                for name, v in zip(node.output, outs):
                    self.consts[name] = np.asarray(v)
                continue
            if present and all(i in self.consts or i in self.abstract for i in present) or node.op_type == "Shape":
                if self._propagate_abstract(node, at):
                    continue
            data.append(node)
        self.nodes = self._live(data)
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: Dict[str, List[Any]] = {}
        for n in self.nodes:
            for i in n.input:
                if i and i not in self.consts:
                    self.consumers.setdefault(i, []).append(n)
        self.order = {id(n): k for k, n in enumerate(self.nodes)}

    @staticmethod
    def _constant_value(node, at, numpy_helper) -> np.ndarray:
        if "value" in at:
            return numpy_helper.to_array(at["value"])
        for key, dt in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                        ("value_ints", np.int64)):
            if key in at:
                return np.asarray(at[key], dt)
        raise WeightFormatError(f"{_label(node)}: unsupported Constant payload {sorted(at)}")

    def _propagate_abstract(self, node, at) -> bool:
        """Track runtime-shape integers and constant fills; True when the node was absorbed."""
        op = node.op_type
        ins = [i for i in node.input if i]
        kinds = [self.abstract.get(i, "const" if i in self.consts else "data") for i in ins]
        out = node.output[0]
        if op == "Shape":
            self.abstract[out] = _SHAPE
            return True
        if any(k == "data" for k in kinds):
            return False
        if op in ("Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Cast", "Reshape", "Identity") and _SHAPE in kinds:
            if all(k in ("const", _SHAPE) for k in kinds) and not any(isinstance(self.abstract.get(i), _Fill) for i in ins):
                self.abstract[out] = _SHAPE
                return True
        first = self.abstract.get(ins[0]) if ins else None
        if op == "ConstantOfShape":
            _, numpy_helper = _import_onnx()
            v = numpy_helper.to_array(at["value"]).reshape(-1)[0] if "value" in at else 0.0
            self.abstract[out] = _Fill(float(v))
            return True
        if op in ("Tile", "Expand") and ins[0] in self.consts:
            c = self.consts[ins[0]]
            if c.size and np.all(c == c.reshape(-1)[0]):
                self.abstract[out] = _Fill(float(c.reshape(-1)[0]))
                return True
        if isinstance(first, _Fill) and op in ("Transpose", "Reshape", "Slice", "Unsqueeze", "Squeeze", "Cast",
                                               "Identity", "Tile", "Expand"):
            self.abstract[out] = _Fill(first.value)
            return True
        if op == "Concat" and all(isinstance(self.abstract.get(i), _Fill) for i in ins):
            values = {self.abstract[i].value for i in ins}
            if len(values) == 1:
                self.abstract[out] = _Fill(values.pop())
                return True
        return False

    def _live(self, nodes):
        needed = {self.output}
        keep = []
        for n in reversed(nodes):
            if any(o in needed for o in n.output):
                keep.append(n)
                needed.update(i for i in n.input if i)
        return keep[::-1]

    def const(self, name: str) -> Optional[np.ndarray]:
        return self.consts.get(name) if name else None

