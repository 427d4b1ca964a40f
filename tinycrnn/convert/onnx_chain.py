"""ONNX chain -> tinycrnn layer specs (format_version 1 recognisers): the walk and its fusions.

The data path, a chain from the input to the output, is matched op by op onto tinycrnn layers:
BatchNorm and bias Adds fold into the conv or linear before them, elementwise regions (HardSwish
written as ``x*Clip(x+3,0,6)/6`` in any order, HardSigmoid, Relu) are recognised by evaluating
them on probe values, SE blocks become one ``se`` op; the single-node handlers (Conv, LSTM,
layout plumbing) are in ``onnx_chain_ops.py``.

Not handled (each raises WeightFormatError naming the node): residual adds, dilated or
asymmetric-padded convs, ceil-mode pooling, unidirectional or peephole LSTMs, graphs that
are not a single chain with these local side branches (``onnx_graph.py`` imports those).
"""
from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np

from ..errors import WeightFormatError
from .onnx_chain_ops import ChainOps
from .onnx_common import attrs as _attrs
from .onnx_common import label as _label
from .onnx_fold import FoldedGraph as _Graph

#: ops that may sit on the data path (anything else is reported as unsupported)
_DATA_OPS = {
    "Conv", "BatchNormalization", "Relu", "Clip", "HardSigmoid", "HardSwish", "Add", "Sub", "Mul", "Div", "Max",
    "Min", "Neg", "MaxPool", "GlobalAveragePool", "ReduceMean", "Squeeze", "Unsqueeze", "Transpose", "Reshape",
    "LSTM", "MatMul", "Gemm", "Softmax", "Identity", "Dropout",
}
#: elementwise ops an activation region may contain
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Clip", "Relu", "HardSigmoid", "HardSwish", "Max", "Min", "Neg", "Identity"}

_PROBE = np.concatenate([np.linspace(-9.0, 9.0, 721), [-3.0, 3.0, 0.0, -2.999, 2.999, -3.001, 3.001, 57.0, -57.0]])
_ACT_FUNCS = {
    "relu": lambda v: np.maximum(v, 0.0),
    "hardswish": lambda v: v * np.clip(v + 3.0, 0.0, 6.0) / 6.0,
    "hardsigmoid": lambda v: np.clip(v / 6.0 + 0.5, 0.0, 1.0),
    "none": lambda v: v,
}



class Mapper(ChainOps):
    """Walks the data chain from the input to the output, emitting layers."""

    def __init__(self, g: _Graph, height: Optional[int]):
        self.g = g
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in g.input.type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[1] is None:
            raise WeightFormatError(f"ONNX input {g.input.name!r} must be [N, C, H, W] with a static C, got {dims}")
        self.channels = int(dims[1])
        self.height = int(dims[2]) if dims[2] else height
        if not self.height:
            raise WeightFormatError(
                f"ONNX input {g.input.name!r} has a dynamic height; give the height the model was trained at"
            )
        self.layers: List[Dict[str, Any]] = []
        self.tensors: Dict[str, np.ndarray] = {}
        self.layout = "NCHW"
        self.c, self.h = self.channels, self.height
        self.fusable: Optional[int] = None  # index of the conv/linear layer whose output is the current tensor
        self.softmax = False
        self.counts: Dict[str, int] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        k = self.counts.get(prefix, 0)
        self.counts[prefix] = k + 1
        return f"{prefix}.{k}"

    def _emit(self, spec: Dict[str, Any], tensors: Dict[str, np.ndarray], fusable: bool = False) -> None:
        for key, arr in tensors.items():
            self.tensors[f"{spec['name']}.{key}"] = np.ascontiguousarray(arr, dtype=np.float32)
        self.layers.append(spec)
        self.fusable = len(self.layers) - 1 if fusable else None

    def _only(self, cur: str) -> Any:
        cons = self.g.consumers.get(cur, [])
        return cons[0] if len(cons) == 1 else None

    def _operands(self, node, cur):
        """For a binary node on ``cur``: the other operand as a constant (or None)."""
        other = [i for i in node.input if i != cur]
        if len(other) != 1 or len(node.input) != 2:
            return None
        return self.g.const(other[0])

    def _fail(self, node, why: str):
        raise WeightFormatError(f"ONNX import: {_label(node)}: {why}")

    # -- the walk --------------------------------------------------------------------------------
    def run(self) -> None:
        cur = self.g.input.name
        steps = 0
        while cur != self.g.output:
            steps += 1
            if steps > 10 * len(self.g.nodes) + 10:
                raise WeightFormatError("ONNX import: the data path does not reach the output")
            cons = self.g.consumers.get(cur, [])
            if not cons:
                raise WeightFormatError(f"ONNX import: tensor {cur!r} feeds nothing that reaches the output")
            ops = {n.op_type for n in cons}
            if ops & {"GlobalAveragePool", "ReduceMean"} and len(cons) == 2:
                cur = self._se(cur, cons)
            elif len(cons) == 1 and cons[0].op_type in ("Add", "Sub", "Mul", "Div") and self._is_affine(cons[0], cur):
                cur = self._affine(cons[0], cur)
            elif all(n.op_type in _ELEMENTWISE for n in cons):
                cur = self._activation(cur)
            elif len(cons) == 1:
                cur = self._single(cons[0], cur)
            else:
                raise WeightFormatError(
                    f"ONNX import: tensor {cur!r} branches into {', '.join(_label(n) for n in cons)}; "
                    "only chains (plus HardSwish and SE side branches) are supported"
                )
        if self.layout not in ("NTC", "TNC"):
            raise WeightFormatError(f"ONNX import: the graph output is a {self.layout} tensor, expected a sequence (N,T,K)")

    # -- bias / scale folding ----------------------------------------------------------------------
    def _is_affine(self, node, cur) -> bool:
        c = self._operands(node, cur)
        if c is None or c.size <= 1 or self.fusable is None:
            return False
        return self.layers[self.fusable].get("act", "none") == "none"

    def _channel_vector(self, node, c: np.ndarray) -> np.ndarray:
        n_out = self.layers[self.fusable]["out"]
        if self.layout == "NCHW":
            shape_ok = c.ndim <= 4 and c.size == n_out and (c.ndim < 3 or c.shape[-3] == n_out)
            if c.ndim in (1, 2):
                shape_ok = False  # broadcasts over W, not channels
        else:
            shape_ok = c.size == n_out and c.shape[-1] == n_out
        if not shape_ok:
            self._fail(node, f"constant of shape {c.shape} does not broadcast over the {n_out} channels "
                             f"of the {self.layout} tensor")
        return c.reshape(n_out).astype(np.float64)

    def _affine(self, node, cur) -> str:
        c = self._channel_vector(node, self._operands(node, cur))
        spec = self.layers[self.fusable]
        wkey, bkey = f"{spec['name']}.weight", f"{spec['name']}.bias"
        w = self.tensors[wkey].astype(np.float64)
        b = self.tensors.get(bkey, np.zeros(spec["out"], np.float32)).astype(np.float64)
        op = node.op_type
        if op == "Add":
            b = b + c
        elif op == "Sub":
            if node.input[0] != cur:
                self._fail(node, "constant minus tensor is not a bias")
            b = b - c
        else:
            if op == "Div" and node.input[0] != cur:
                self._fail(node, "constant divided by tensor is not a scale")
            s = c if op == "Mul" else 1.0 / c
            w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
            b = b * s
        self.tensors[wkey] = w.astype(np.float32)
        self.tensors[bkey] = b.astype(np.float32)
        return node.output[0]

    # -- activations -----------------------------------------------------------------------------
    def _region(self, x: str) -> Tuple[str, str, Dict[str, float]]:
        """Grow an elementwise region from ``x`` until it collapses to one tensor computing a known
        activation; returns (act, output tensor, hard-sigmoid params)."""
        g = self.g
        env = {x: _PROBE.copy()}
        pending = {x: len(g.consumers.get(x, []))}
        used: Set[int] = set()
        nodes = [n for n in g.nodes if g.order[id(n)] >= min(g.order[id(c)] for c in g.consumers[x])]
        last_hs: Dict[str, float] = {}
        for node in nodes:
            if id(node) in used or not any(i in env for i in node.input):
                continue
            if node.op_type not in _ELEMENTWISE:
                break
            vals = []
            for i in node.input:
                if not i:
                    vals.append(None)
                elif i in env:
                    vals.append(env[i])
                elif i in g.consts and g.consts[i].size == 1:
                    vals.append(float(g.consts[i].reshape(-1)[0]))
                else:
                    break
            else:
                env[node.output[0]] = self._probe(node, vals, last_hs)
                used.add(id(node))
                for i in node.input:
                    if i in pending:
                        pending[i] -= 1
                pending[node.output[0]] = len(g.consumers.get(node.output[0], []))
                live = [t for t, k in pending.items() if k > 0 or t == g.output]
                if len(live) == 1 and live[0] != x:
                    out = live[0]
                    for act, f in _ACT_FUNCS.items():
                        if np.allclose(env[out], f(_PROBE), rtol=1e-5, atol=1e-5):
                            if act == "hardsigmoid" and last_hs:
                                return act, out, last_hs
                            return act, out, {}
                    if len(used) == 1 and node.op_type == "HardSigmoid":
                        return "hardsigmoid", out, last_hs
                continue
            break
        first = g.consumers[x][0]
        raise WeightFormatError(
            f"ONNX import: the elementwise ops after {x!r} (from {_label(first)}) do not compute a supported "
            f"activation ({', '.join(a for a in _ACT_FUNCS if a != 'none')})"
        )

    @staticmethod
    def _probe(node, vals, last_hs) -> np.ndarray:
        at = _attrs(node)
        op = node.op_type
        a = vals[0]
        if op == "Add":
            return vals[0] + vals[1]
        if op == "Sub":
            return vals[0] - vals[1]
        if op == "Mul":
            return vals[0] * vals[1]
        if op == "Div":
            return vals[0] / vals[1]
        if op == "Neg":
            return -a
        if op in ("Identity",):
            return a
        if op == "Relu":
            return np.maximum(a, 0.0)
        if op == "Max":
            return np.maximum(vals[0], vals[1])
        if op == "Min":
            return np.minimum(vals[0], vals[1])
        if op == "Clip":
            lo = vals[1] if len(vals) > 1 and vals[1] is not None else at.get("min", -np.inf)
            hi = vals[2] if len(vals) > 2 and vals[2] is not None else at.get("max", np.inf)
            return np.clip(a, lo, hi)
        if op == "HardSigmoid":
            alpha, beta = at.get("alpha", 0.2), at.get("beta", 0.5)
            last_hs.update(alpha=float(alpha), beta=float(beta))
            return np.clip(alpha * a + beta, 0.0, 1.0)
        if op == "HardSwish":
            return a * np.clip(a + 3.0, 0.0, 6.0) / 6.0
        raise WeightFormatError(f"unexpected elementwise op {op}")

    def _activation(self, cur: str) -> str:
        act, out, hs = self._region(cur)
        if act == "none":
            return out
        first = self.g.consumers[cur][0]
        if hs and not (abs(hs["alpha"] - 1.0 / 6.0) < 1e-6 and hs["beta"] == 0.5):
            self._fail(first, f"HardSigmoid alpha={hs['alpha']} beta={hs['beta']}: fused activations use 1/6, 0.5")
        if self.fusable is None or self.layers[self.fusable].get("act", "none") != "none":
            self._fail(first, f"{act} does not directly follow a conv or linear layer "
                              "(standalone activations are not supported)")
        self.layers[self.fusable]["act"] = act
        self.fusable = None
        return out

    # -- SE block --------------------------------------------------------------------------------
    def _se(self, x: str, cons) -> str:
        g = self.g
        if self.layout != "NCHW":
            self._fail(cons[0], "squeeze-excitation on a non-image tensor")
        pool = [n for n in cons if n.op_type in ("GlobalAveragePool", "ReduceMean")][0]
        mul = [n for n in cons if n is not pool][0]
        if pool.op_type == "ReduceMean":
            at = _attrs(pool)
            axes = at.get("axes") or ([int(v) for v in g.const(pool.input[1])] if len(pool.input) > 1 else None)
            if sorted(a % 4 for a in (axes or [])) != [2, 3] or not at.get("keepdims", 1):
                self._fail(pool, "only a keepdims mean over H and W can start an SE block")
        convs = []
        cur = pool.output[0]
        acts = []
        for _ in range(2):
            conv = self._only(cur)
            if conv is None or conv.op_type != "Conv":
                self._fail(pool, "expected GlobalAveragePool -> Conv -> act -> Conv -> act -> Mul")
            w = g.const(conv.input[1])
            at = _attrs(conv)
            if w is None or w.ndim != 4 or w.shape[2:] != (1, 1) or at.get("group", 1) != 1:
                self._fail(conv, "SE convs must be 1x1, ungrouped, with constant weights")
            b = g.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32)
            cur = conv.output[0]
            nxt = self._only(cur)
            if nxt is not None and nxt.op_type == "Add" and self._operands(nxt, cur) is not None:
                c = self._operands(nxt, cur)
                if c.size != w.shape[0]:
                    self._fail(nxt, f"SE bias of shape {c.shape} for {w.shape[0]} channels")
                b = b + c.reshape(-1)
                cur = nxt.output[0]
            act, cur, hs = self._region(cur)
            convs.append((w.reshape(w.shape[0], w.shape[1]), b.reshape(-1)))
            acts.append((act, hs))
        if acts[0][0] != "relu" or acts[1][0] != "hardsigmoid":
            self._fail(pool, f"SE activations are {acts[0][0]}, {acts[1][0]}; supported: relu, hardsigmoid")
        if set(mul.input) != {x, cur} or mul.op_type != "Mul":
            self._fail(mul, "the SE gate must multiply the block's input")
        (w1, b1), (w2, b2) = convs
        if w1.shape[1] != self.c or w2.shape != (self.c, w1.shape[0]):
            self._fail(pool, f"SE weights {w1.shape}, {w2.shape} do not fit {self.c} channels")
        hs = acts[1][1] or {"alpha": 1.0 / 6.0, "beta": 0.5}
        spec = {"op": "se", "name": self._name("se"), "reduced": int(w1.shape[0]), "alpha": hs["alpha"], "beta": hs["beta"]}
        self._emit(spec, {"w1": w1, "b1": b1, "w2": w2, "b2": b2})
        return mul.output[0]
