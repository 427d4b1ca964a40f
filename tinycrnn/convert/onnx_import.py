"""ONNX graph -> tinycrnn layer specs and float32 tensors (conversion time only; needs the ``onnx`` extra).

Three passes: (1) weights from initializers and ``Constant`` nodes, and a tiny NumPy evaluator
that folds every subgraph computed from constants alone (Paddle's gate-reordering
Slice/Concat, PyTorch's bias Reshape); shape plumbing that depends on the runtime batch size
is tracked abstractly, only far enough to prove an LSTM's initial state is zero. (2) Dead
nodes (unused LSTM state outputs) are dropped. (3) The data path, a chain from the input to
the output, is matched op by op onto tinycrnn layers: BatchNorm and bias Adds fold into the
conv or linear before them, elementwise regions (HardSwish written as ``x*Clip(x+3,0,6)/6``
in any order, HardSigmoid, Relu) are recognised by evaluating them on probe values, SE blocks
become one ``se`` op, ONNX LSTM gates (i,o,f,c) are reordered to (i,f,g,o).

Not handled (each raises WeightFormatError naming the node): residual adds, dilated or
asymmetric-padded convs, ceil-mode pooling, unidirectional or peephole LSTMs, graphs that
are not a single chain with these local side branches.
"""
from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np

from ..errors import MissingDependencyError, WeightFormatError
from .easyocr import fold_batchnorm

#: ops the constant folder evaluates when all their inputs are constants
_FOLD = {
    "Identity", "Cast", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Slice", "Concat", "Gather", "Tile",
    "Shape", "ConstantOfShape", "Expand", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt", "Range", "Flatten", "Split",
}
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


class _Fill:
    """A runtime-shaped tensor whose every element is ``value`` (e.g. a zero LSTM state)."""

    def __init__(self, value: float):
        self.value = value


_SHAPE = "runtime-shape"  # marker: integers derived from a runtime shape


def _import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise MissingDependencyError(
            "converting ONNX models needs the 'onnx' package: pip install tinycrnn[convert]"
        ) from None
    return onnx, numpy_helper


def load_onnx(path: str):
    """Parse ``path`` with the ``onnx`` package; a corrupt file raises :class:`WeightFormatError`."""
    onnx, _ = _import_onnx()
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(path)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise WeightFormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if len(model.graph.node) == 0:
        raise WeightFormatError(f"{path}: ONNX graph has no nodes (empty or corrupt file)")
    return model


def _attrs(node) -> Dict[str, Any]:
    onnx, _ = _import_onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _label(node) -> str:
    return f"{node.op_type} '{node.name or node.output[0]}'"


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


class _Graph:
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
                f"ONNX graph has {len(inputs)} data inputs and {len(g.output)} outputs; a recogniser has one of each"
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


class _Mapper:
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

    # -- single-consumer ops -----------------------------------------------------------------------
    def _single(self, node, cur: str) -> str:
        op = node.op_type
        at = _attrs(node)
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            self._fail(node, f"op {op} is not supported on the data path here")
        return handler(node, cur, at)

    def _pads(self, node, at) -> List[int]:
        pads = list(at.get("pads", [0, 0, 0, 0]))
        if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or pads[0] != pads[2] or pads[1] != pads[3]:
            self._fail(node, f"asymmetric or automatic padding {pads} {at.get('auto_pad', '')} is not supported")
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            self._fail(node, "dilated kernels are not supported")
        return [int(pads[0]), int(pads[1])]

    def _op_Conv(self, node, cur, at):
        if self.layout != "NCHW":
            self._fail(node, f"Conv on a {self.layout} tensor")
        w = self.g.const(node.input[1])
        if w is None or w.ndim != 4:
            self._fail(node, "Conv weight must be a constant 4-D tensor")
        b = self.g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        groups = int(at.get("group", 1))
        k = [int(v) for v in w.shape[2:]]
        s = [int(v) for v in at.get("strides", [1, 1])]
        p = self._pads(node, at)
        if w.shape[1] * groups != self.c:
            self._fail(node, f"weight {w.shape} with group {groups} does not fit {self.c} input channels")
        spec = {"op": "conv2d", "name": self._name("cnn"), "out": int(w.shape[0]), "k": k, "s": s, "p": p,
                "groups": groups, "act": "none"}
        tensors = {"weight": w}
        tensors["bias"] = b if b is not None else np.zeros(w.shape[0], np.float32)
        self._emit(spec, tensors, fusable=True)
        self.c = int(w.shape[0])
        self.h = (self.h + 2 * p[0] - k[0]) // s[0] + 1
        return node.output[0]

    def _op_BatchNormalization(self, node, cur, at):
        gamma, beta, mean, var = (self.g.const(i) for i in node.input[1:5])
        if any(v is None for v in (gamma, beta, mean, var)) or at.get("training_mode", 0):
            self._fail(node, "BatchNormalization needs constant inference statistics")
        eps = float(at.get("epsilon", 1e-5))
        spec = self.layers[self.fusable] if self.fusable is not None else None
        if spec is not None and spec["op"] == "conv2d" and spec["act"] == "none":
            wkey, bkey = f"{spec['name']}.weight", f"{spec['name']}.bias"
            w, b = fold_batchnorm(self.tensors[wkey], self.tensors[bkey], gamma, beta, mean, var, eps)
            self.tensors[wkey], self.tensors[bkey] = w, b
            spec["bn"] = "folded"
            return node.output[0]
        if self.layout != "NCHW":
            self._fail(node, "BatchNormalization not after a conv and not on an image tensor")
        # a standalone BN is a 1x1 depthwise conv
        w, b = fold_batchnorm(np.ones((self.c, 1, 1, 1), np.float32), None, gamma, beta, mean, var, eps)
        spec = {"op": "conv2d", "name": self._name("bn"), "out": self.c, "k": [1, 1], "s": [1, 1], "p": [0, 0],
                "groups": self.c, "act": "none", "bn": "folded"}
        self._emit(spec, {"weight": w, "bias": b}, fusable=True)
        return node.output[0]

    def _op_MaxPool(self, node, cur, at):
        if self.layout != "NCHW":
            self._fail(node, f"MaxPool on a {self.layout} tensor")
        if at.get("ceil_mode", 0) or at.get("storage_order", 0) or len(node.output) > 1 and node.output[1]:
            self._fail(node, "ceil_mode, storage_order and the Indices output are not supported")
        k = [int(v) for v in at["kernel_shape"]]
        s = [int(v) for v in at.get("strides", [1, 1])]
        p = self._pads(node, at)
        self._emit({"op": "maxpool2d", "k": k, "s": s, "p": p}, {})
        self.h = (self.h + 2 * p[0] - k[0]) // s[0] + 1
        return node.output[0]

    def _axes(self, node, at) -> Optional[List[int]]:
        if "axes" in at:
            return [int(a) for a in at["axes"]]
        if len(node.input) > 1 and node.input[1]:
            c = self.g.const(node.input[1])
            if c is None:
                self._fail(node, "axes must be constant")
            return [int(a) for a in c.reshape(-1)]
        return None

    def _op_ReduceMean(self, node, cur, at):
        axes = self._axes(node, at)
        if self.layout != "NCHW" or axes is None or [a % 4 for a in axes] != [2]:
            self._fail(node, "only a mean over the height axis of an image is supported")
        self._emit({"op": "mean_height"}, {})
        self.layout = "NCW" if not at.get("keepdims", 1) else "NC1W"
        return node.output[0]

    def _op_Squeeze(self, node, cur, at):
        axes = self._axes(node, at)
        if self.layout == "NC1W" and axes is not None and [a % 4 for a in axes] == [2]:
            self.layout = "NCW"
            return node.output[0]
        if self.layout == "NCHW" and axes is not None and [a % 4 for a in axes] == [2]:
            if self.h != 1:
                self._fail(node, f"squeezing the height axis, but the feature map has height {self.h}")
            self._emit({"op": "mean_height"}, {})  # NOTE: the mean over one row is that row
            self.layout = "NCW"
            return node.output[0]
        self._fail(node, f"Squeeze axes {axes} on a {self.layout} tensor")

    _PERMS = {
        ("NCW", (0, 2, 1)): "NTC", ("NCW", (2, 0, 1)): "TNC",
        ("NTC", (1, 0, 2)): "TNC", ("TNC", (1, 0, 2)): "NTC",
        ("TDNH", (0, 2, 1, 3)): "TNDH", ("TDNH", (2, 0, 1, 3)): "NTDH",
    }

    def _op_Transpose(self, node, cur, at):
        perm = tuple(int(v) for v in at.get("perm", []))
        new = self._PERMS.get((self.layout, perm))
        if new is None:
            self._fail(node, f"Transpose perm {list(perm)} on a {self.layout} tensor")
        self.layout = new
        return node.output[0]

    def _op_Reshape(self, node, cur, at):
        shape = self.g.const(node.input[1])
        if shape is None:
            self._fail(node, "Reshape with a runtime-computed shape")
        s = [int(v) for v in shape]
        if self.layout in ("TNDH", "NTDH") and len(s) == 3 and s[2] in (-1, self.c) and s[:2] in ([0, 0], [-1, 0], [0, -1]):
            self.layout = "TNC" if self.layout == "TNDH" else "NTC"
            return node.output[0]
        self._fail(node, f"Reshape to {s} on a {self.layout} tensor")

    def _op_Identity(self, node, cur, at):
        return node.output[0]

    _op_Dropout = _op_Identity

    def _op_LSTM(self, node, cur, at):
        g = self.g
        if self.layout != "TNC" or at.get("layout", 0) != 0:
            self._fail(node, f"LSTM input must be time-major [T, N, C], got {self.layout}")
        if at.get("direction", "forward") != "bidirectional":
            self._fail(node, f"direction {at.get('direction', 'forward')!r}: only bidirectional LSTMs are supported")
        acts = at.get("activations")
        if acts and [a.decode() if isinstance(a, bytes) else a for a in acts] != ["Sigmoid", "Tanh", "Tanh"] * 2:
            self._fail(node, f"LSTM activations {acts} (only the defaults are supported)")
        if "clip" in at or at.get("input_forget", 0):
            self._fail(node, "LSTM clip / input_forget are not supported")
        ins = list(node.input) + [""] * (8 - len(node.input))
        w, r, b = g.const(ins[1]), g.const(ins[2]), g.const(ins[3]) if ins[3] else None
        if w is None or r is None:
            self._fail(node, "LSTM W and R must be constants")
        if ins[4] or ins[7]:
            self._fail(node, "sequence_lens and peepholes are not supported")
        for i in (ins[5], ins[6]):
            if not i:
                continue
            v = g.abstract.get(i, g.consts.get(i))
            zero = isinstance(v, _Fill) and v.value == 0.0 or isinstance(v, np.ndarray) and not np.any(v)
            if not zero:
                self._fail(node, f"initial state {i!r} is not provably zero")
        if any(o in g.consumers for o in node.output[1:] if o):
            self._fail(node, "the LSTM's Y_h / Y_c outputs are used; only Y is supported")
        hid = int(at["hidden_size"])
        if w.shape != (2, 4 * hid, self.c) or r.shape != (2, 4 * hid, hid):
            self._fail(node, f"W {w.shape} / R {r.shape} do not fit input {self.c}, hidden {hid}")
        if b is None:
            b = np.zeros((2, 8 * hid), np.float32)
        # ONNX gate blocks (i, o, f, c) -> tinycrnn (i, f, g, o)
        order = np.concatenate([np.arange(k * hid, (k + 1) * hid) for k in (0, 2, 3, 1)])
        name = self._name("rnn")
        tensors = {}
        for d, tag in enumerate(("fwd", "bwd")):
            tensors[f"{tag}.w_ih"] = w[d][order]
            tensors[f"{tag}.w_hh"] = r[d][order]
            tensors[f"{tag}.b"] = (b[d, : 4 * hid].astype(np.float32) + b[d, 4 * hid :].astype(np.float32))[order]
        self._emit({"op": "bilstm", "name": name, "hidden": hid, "gate_order": "ifgo"}, tensors)
        self.layout = "TDNH"
        self.c = 2 * hid
        return node.output[0]

    def _op_MatMul(self, node, cur, at):
        if self.layout not in ("NTC", "TNC") or node.input[0] != cur:
            self._fail(node, f"MatMul on a {self.layout} tensor (only sequence @ constant matrix)")
        w = self.g.const(node.input[1])
        if w is None or w.ndim != 2 or w.shape[0] != self.c:
            self._fail(node, f"MatMul needs a constant ({self.c}, O) matrix")
        spec = {"op": "linear", "name": self._name("fc"), "out": int(w.shape[1]), "act": "none"}
        self._emit(spec, {"weight": w.T, "bias": np.zeros(w.shape[1], np.float32)}, fusable=True)
        self.c = int(w.shape[1])
        return node.output[0]

    def _op_Gemm(self, node, cur, at):
        # NOTE: Gemm is 2-D only; on a sequence it appears after a flatten this importer does not model
        self._fail(node, "Gemm on a 3-D sequence tensor is not valid ONNX; export the linear as MatMul + Add")

    def _op_Softmax(self, node, cur, at):
        if self.layout not in ("NTC", "TNC") or at.get("axis", -1) not in (-1, 2):
            self._fail(node, f"Softmax over axis {at.get('axis', -1)} of a {self.layout} tensor (only the class axis)")
        self._emit({"op": "softmax"}, {})
        self.softmax = True
        return node.output[0]


def merge_linears(layers: List[Dict[str, Any]], tensors: Dict[str, np.ndarray], mode: str = "auto") -> None:
    """Merge ``linear`` pairs with no activation between them, in place.

    ``W = W2 @ W1``, ``b = W2 @ b1 + b2`` in float64. ``mode``: ``"always"``, ``"never"``, or
    ``"auto"``: only when it does not add multiply-adds (``I*O2 <= I*O1 + O1*O2``); PP-OCR's
    128->96->6625 head would grow by 30%, english_g2's 256->256->97 shrinks by 72%.
    """
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"merge mode {mode!r}")
    i = 0
    while mode != "never" and i + 1 < len(layers):
        a, b = layers[i], layers[i + 1]
        if a["op"] == b["op"] == "linear" and a.get("act", "none") == "none":
            w1, b1 = tensors[a["name"] + ".weight"].astype(np.float64), tensors[a["name"] + ".bias"].astype(np.float64)
            w2, b2 = tensors[b["name"] + ".weight"].astype(np.float64), tensors[b["name"] + ".bias"].astype(np.float64)
            n_in, mid, n_out = w1.shape[1], w1.shape[0], w2.shape[0]
            if mode == "always" or n_in * n_out <= n_in * mid + mid * n_out:
                for key in ("weight", "bias"):
                    del tensors[f"{a['name']}.{key}"]
                tensors[b["name"] + ".weight"] = (w2 @ w1).astype(np.float32)
                tensors[b["name"] + ".bias"] = (w2 @ b1 + b2).astype(np.float32)
                del layers[i]
                continue
        i += 1


def onnx_to_layers(
    path: str, height: Optional[int] = None, merge: str = "auto"
) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], Dict[str, Any]]:
    """Convert an ONNX recogniser into tinycrnn tensors and an ``arch`` block.

    Args:
        path: the ``.onnx`` file.
        height: input height, used when the graph's height is dynamic (PP-OCR: 32).
        merge: linear merging policy, see :func:`merge_linears`.

    Returns:
        ``(tensors, arch, info)``; ``info`` has ``softmax`` (the graph ends in Softmax),
        ``producer`` (the ONNX producer name), ``classes`` and ``input_name``.

    Raises:
        MissingDependencyError: the ``onnx`` package is not installed.
        WeightFormatError: unreadable file, unsupported ops (all listed, with node names) or
            an unsupported pattern (naming the node).
    """
    model = load_onnx(path)
    g = _Graph(model)
    bad = [n for n in g.nodes if n.op_type not in _DATA_OPS]
    if bad:
        raise WeightFormatError(
            f"{path}: unsupported ONNX ops on the data path: "
            + ", ".join(f"{n.op_type} ({n.name or n.output[0]})" for n in bad)
            + f"; supported: {', '.join(sorted(_DATA_OPS))}"
        )
    m = _Mapper(g, height)
    m.run()
    merge_linears(m.layers, m.tensors, merge)
    arch = {"name": "onnx_import", "input": {"channels": m.channels, "height": m.height}, "layers": m.layers}
    classes = m.c
    info = {"softmax": m.softmax, "producer": model.producer_name, "classes": classes, "input_name": g.input.name}
    return m.tensors, arch, info


def read_charset_lines(path: str) -> List[str]:
    """A one-symbol-per-line charset file, read without ``str.strip``.

    Split on ``\\n`` and remove only a trailing ``\\r`` (CRLF files); a final newline is optional;
    every other character, U+3000 IDEOGRAPHIC SPACE included, is kept. A UTF-8 BOM is dropped.

    Raises:
        WeightFormatError: not UTF-8, or an empty entry (it would collide with the blank).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeightFormatError(f"{path}: charset is not UTF-8 ({exc})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] in ("", "\r"):
        lines.pop()
    chars = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    empty = [i + 1 for i, c in enumerate(chars) if c == ""]
    if empty:
        raise WeightFormatError(f"{path}: charset line(s) {empty[:5]} are empty; an empty symbol cannot be represented")
    return chars


__all__ = ["load_onnx", "merge_linears", "onnx_to_layers", "read_charset_lines"]
