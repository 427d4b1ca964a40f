"""ONNX graph -> a tinycrnn graph model (format_version 2): layers that name their input and output values.

For graphs that are not chains: DB text detectors (an FPN neck adding up-sampled deep features to
shallower ones, four branches concatenated, a transposed-convolution head) and MobileNetV3
classifiers with residual adds. Three steps:

1. patterns: ``x * Clip(x + 3, 0, 6) / 6`` is one ``hardswish``; GlobalAveragePool -> 1x1 Conv ->
   Relu -> 1x1 Conv -> HardSigmoid -> Mul by the block input is one ``se`` layer;
2. node by node: Conv, ConvTranspose, BatchNormalization and every Add/Sub/Mul/Div by a constant
   (``affine``: per-channel scale and shift), Add of two values, Resize (nearest, integer scales),
   Concat, activations, MaxPool, GlobalAveragePool (+ its Reshape/Flatten), MatMul, Softmax;
3. fusions (``onnx_fuse.py``): affines into the conv / linear before them, activations into their
   producer, up-sampling into the add / concat reading it, and affines that remain into the
   unpadded convs after them (exact: no zero padding sees the shift).

Values are renamed after the layers writing them; the graph input is ``x``.
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import WeightFormatError
from .onnx_common import attrs, label, load_onnx
from .onnx_fold import FoldedGraph

_PASS = ("Identity", "Dropout")


class _Builder:
    def __init__(self, g: FoldedGraph):
        self.g = g
        self.alias: Dict[str, str] = {}
        self.layers: List[Dict[str, Any]] = []
        self.chan: Dict[str, Tuple[int, int]] = {}  # value -> (rank per item, channels)
        self.done = set()
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in g.input.type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[1] is None:
            raise WeightFormatError(f"ONNX input {g.input.name!r} must be [N, C, H, W] with a static C, got {dims}")
        self.channels = int(dims[1])
        self.dims = dims
        self.chan[g.input.name] = (3, self.channels)

    # -- helpers ------------------------------------------------------------------------------------
    def v(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def data_inputs(self, node) -> List[str]:
        return [self.v(i) for i in node.input if i and i not in self.g.consts and i not in self.g.abstract]

    def emit(self, op: str, inputs: List[str], output: str, params=None, tensors=None, rank_chan=None):
        self.layers.append({"op": op, "inputs": inputs, "output": output, "params": dict(params or {}),
                            "tensors": {k: np.asarray(t, np.float32) for k, t in (tensors or {}).items()}})
        self.chan[output] = rank_chan if rank_chan is not None else self.chan[inputs[0]]

    def only(self, name: str):
        cons = self.g.consumers.get(name, [])
        return cons[0] if len(cons) == 1 else None

    def scalar(self, name: str) -> Optional[float]:
        c = self.g.const(name)
        return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None

    def fail(self, node, why: str):
        raise WeightFormatError(f"ONNX import: {label(node)}: {why}")

    # -- patterns -----------------------------------------------------------------------------------
    def hardswish(self, node) -> bool:
        """``Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6) | Mul(1/6)`` starting at ``node``."""
        if node.op_type != "Add" or len(node.input) != 2:
            return False
        x = [i for i in node.input if self.g.const(i) is None]
        three = [self.scalar(i) for i in node.input if self.g.const(i) is not None]
        if len(x) != 1 or three != [3.0]:
            return False
        clip = self.only(node.output[0])
        if clip is None or clip.op_type != "Clip":
            return False
        at = attrs(clip)
        lo = self.scalar(clip.input[1]) if len(clip.input) > 1 and clip.input[1] else at.get("min")
        hi = self.scalar(clip.input[2]) if len(clip.input) > 2 and clip.input[2] else at.get("max")
        mul = self.only(clip.output[0])
        if (lo, hi) != (0.0, 6.0) or mul is None or mul.op_type != "Mul" or set(mul.input) != {x[0], clip.output[0]}:
            return False
        div = self.only(mul.output[0])
        if div is None or not (div.op_type == "Div" and self.scalar(div.input[1]) == 6.0
                               or div.op_type == "Mul" and abs((self.scalar(div.input[1]) or 0) - 1 / 6) < 1e-7):
            return False
        self.emit("act", [self.v(x[0])], div.output[0], {"act": "hardswish"})
        self.done.update(id(n) for n in (node, clip, mul, div))
        return True

    def se(self, pool) -> bool:
        """GlobalAveragePool -> Conv [-> Add b] -> Relu -> Conv [-> Add b] -> HardSigmoid -> Mul(x, gate)."""
        g, x = self.g, pool.input[0]
        cur, convs, seen = pool.output[0], [], [pool]
        for act in ("Relu", "HardSigmoid"):
            conv = self.only(cur)
            if conv is None or conv.op_type != "Conv":
                return False
            w = g.const(conv.input[1])
            if w is None or w.shape[2:] != (1, 1) or attrs(conv).get("group", 1) != 1:
                return False
            b = g.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32)
            cur, nxt = conv.output[0], self.only(conv.output[0])
            seen.append(conv)
            if nxt is not None and nxt.op_type == "Add" and any(g.const(i) is not None for i in nxt.input):
                c = [g.const(i) for i in nxt.input if g.const(i) is not None][0]
                if c.size != w.shape[0]:
                    return False
                b = b + c.reshape(-1)
                seen.append(nxt)
                cur, nxt = nxt.output[0], self.only(nxt.output[0])
            if nxt is None or nxt.op_type != act:
                return False
            seen.append(nxt)
            convs.append((w.reshape(w.shape[0], w.shape[1]), b.reshape(-1)))
            cur = nxt.output[0]
            hs = attrs(nxt)
        mul = self.only(cur)
        if mul is None or mul.op_type != "Mul" or set(mul.input) != {x, cur}:
            return False
        (w1, b1), (w2, b2) = convs
        self.emit("se", [self.v(x)], mul.output[0],
                  {"reduced": int(w1.shape[0]), "alpha": float(hs.get("alpha", 0.2)), "beta": float(hs.get("beta", 0.5))},
                  {"w1": w1, "b1": b1, "w2": w2, "b2": b2})
        self.done.update(id(n) for n in seen + [mul])
        return True

    # -- node by node -------------------------------------------------------------------------------
    def run(self):
        for node in self.g.nodes:
            if id(node) in self.done:
                continue
            if node.op_type == "Add" and self.hardswish(node):
                continue
            if node.op_type == "GlobalAveragePool" and self.se(node):
                continue
            handler = getattr(self, f"op_{node.op_type}", None)
            if handler is None:
                self.fail(node, "op not supported by the graph importer")
            handler(node, attrs(node))

    def op_Conv(self, node, at):
        w = self.g.const(node.input[1])
        if w is None or w.ndim != 4:
            self.fail(node, "Conv weight must be a constant 4-D tensor")
        b = self.g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0], np.float32)
        self.emit("conv2d", self.data_inputs(node), node.output[0],
                  {"out": int(w.shape[0]), "k": list(w.shape[2:]), "s": [int(v) for v in at.get("strides", [1, 1])],
                   "p": self.pads(node, at), "groups": int(at.get("group", 1)), "act": "none"},
                  {"weight": w, "bias": b}, (3, int(w.shape[0])))

    def op_ConvTranspose(self, node, at):
        w = self.g.const(node.input[1])
        if w is None or w.ndim != 4 or at.get("group", 1) != 1 or any(at.get("output_padding", [0, 0])):
            self.fail(node, "ConvTranspose needs a constant weight, group 1 and no output_padding")
        b = self.g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[1], np.float32)
        self.emit("conv_transpose2d", self.data_inputs(node), node.output[0],
                  {"out": int(w.shape[1]), "k": list(w.shape[2:]), "s": [int(v) for v in at.get("strides", [1, 1])],
                   "p": self.pads(node, at), "act": "none"}, {"weight": w, "bias": b}, (3, int(w.shape[1])))

    def pads(self, node, at) -> List[int]:
        pads = [int(v) for v in at.get("pads", [0, 0, 0, 0])]
        if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or pads[0] != pads[2] or pads[1] != pads[3]:
            self.fail(node, f"asymmetric or automatic padding {pads} is not supported")
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            self.fail(node, "dilated kernels are not supported")
        return pads[:2]

    def op_BatchNormalization(self, node, at):
        gamma, beta, mean, var = (self.g.const(i).astype(np.float64) for i in node.input[1:5])
        s = gamma / np.sqrt(var + float(at.get("epsilon", 1e-5)))
        self.emit("affine", self.data_inputs(node), node.output[0], {}, {"scale": s, "shift": beta - mean * s})

    def _binary(self, node):
        consts = [i for i in node.input if self.g.const(i) is not None]
        data = self.data_inputs(node)
        if len(consts) == 1 and len(data) == 1:
            return data[0], self.g.const(consts[0]), node.input[0] in consts
        if len(data) == 2:
            return data, None, False
        self.fail(node, "expected one value and one constant, or two values")

    def _affine(self, node, x: str, scale, shift):
        rank, c = self.chan[x]
        scale, shift = (np.broadcast_to(np.asarray(v, np.float64).reshape(-1), (c,)) if np.size(v) in (1, c)
                        else self.fail(node, f"constant of {np.size(v)} values for {c} channels") for v in (scale, shift))
        self.emit("affine", [x], node.output[0], {}, {"scale": scale, "shift": shift})

    def _channel_const(self, node, x, c):
        rank, ch = self.chan[x]
        ok = c.size == 1 or (c.size == ch and (c.ndim == 1 and rank == 1 or c.ndim >= 3 and c.shape[-3] == ch
                                              or rank == 1 and c.shape[-1] == ch))
        if not ok:
            self.fail(node, f"constant of shape {c.shape} does not broadcast per channel over a rank-{rank} value")
        return c.reshape(-1).astype(np.float64)

    def op_Add(self, node, at):
        x, c, _ = self._binary(node)
        if c is None:
            self.emit("add", x, node.output[0], {"up": [[1, 1], [1, 1]], "act": "none"})
        else:
            self._affine(node, x, 1.0, self._channel_const(node, x, c))

    def op_Sub(self, node, at):
        x, c, const_first = self._binary(node)
        if c is None:
            self.fail(node, "Sub of two values is not supported")
        c = self._channel_const(node, x, c)
        self._affine(node, x, -1.0 if const_first else 1.0, c if const_first else -c)

    def op_Mul(self, node, at):
        x, c, _ = self._binary(node)
        if c is None:
            self.fail(node, "Mul of two values outside a HardSwish or SE pattern is not supported")
        self._affine(node, x, self._channel_const(node, x, c), 0.0)

    def op_Div(self, node, at):
        x, c, const_first = self._binary(node)
        if c is None or const_first:
            self.fail(node, "only a value divided by a constant is supported")
        self._affine(node, x, 1.0 / self._channel_const(node, x, c), 0.0)

    def _act(self, node, act):
        self.emit("act", self.data_inputs(node), node.output[0], {"act": act})

    def op_Relu(self, node, at):
        self._act(node, "relu")

    def op_Sigmoid(self, node, at):
        self._act(node, "sigmoid")

    def op_HardSigmoid(self, node, at):
        if abs(at.get("alpha", 0.2) - 1 / 6) > 1e-6 or at.get("beta", 0.5) != 0.5:
            self.fail(node, f"HardSigmoid alpha={at.get('alpha', 0.2)} outside an SE block (only 1/6, 0.5)")
        self._act(node, "hardsigmoid")

    def op_Resize(self, node, at):
        scales = self.g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        mode, ctm, nm = at.get("mode", "nearest"), at.get("coordinate_transformation_mode", "half_pixel"), \
            at.get("nearest_mode", "round_prefer_floor")
        if (scales is None or scales.size != 4 or list(scales[:2]) != [1, 1] or mode != "nearest"
                or ctm != "asymmetric" or nm != "floor" or any(v != int(v) or v < 1 for v in scales[2:])):
            self.fail(node, f"only nearest up-sampling by integer scales (asymmetric, floor) is supported; got {mode} "
                            f"{ctm} {nm} scales {None if scales is None else scales.tolist()}")
        self.emit("upsample_nearest", self.data_inputs(node), node.output[0], {"up": [int(scales[2]), int(scales[3])]})

    def op_Concat(self, node, at):
        xs = self.data_inputs(node)
        if at.get("axis") not in (1, -3) or len(xs) != len(node.input):
            self.fail(node, "only a channel concatenation of values is supported")
        self.emit("concat", xs, node.output[0], {"up": [[1, 1]] * len(xs)},
                  rank_chan=(3, sum(self.chan[x][1] for x in xs)))

    def op_MaxPool(self, node, at):
        if at.get("ceil_mode", 0) or len(node.output) > 1 and node.output[1]:
            self.fail(node, "ceil_mode and the Indices output are not supported")
        k = [int(v) for v in at["kernel_shape"]]
        self.emit("maxpool2d", self.data_inputs(node), node.output[0],
                  {"k": k, "s": [int(v) for v in at.get("strides", k)], "p": self.pads(node, at)})

    def op_GlobalAveragePool(self, node, at):
        x = self.data_inputs(node)[0]
        self.emit("global_avg_pool", [x], node.output[0], rank_chan=(1, self.chan[x][1]))

    def op_Reshape(self, node, at):
        x = self.data_inputs(node)[0]
        if self.chan[x][0] != 1:
            self.fail(node, "only the flatten after a global pooling is supported")
        self.alias[node.output[0]] = x

    op_Flatten = op_Reshape

    def op_Identity(self, node, at):
        self.alias[node.output[0]] = self.data_inputs(node)[0]

    op_Dropout = op_Identity

    def op_MatMul(self, node, at):
        x, w = self.data_inputs(node), self.g.const(node.input[1])
        if len(x) != 1 or w is None or w.ndim != 2 or self.chan[x[0]] != (1, w.shape[0]):
            self.fail(node, "only a feature vector times a constant (K, O) matrix is supported")
        self.emit("linear", x, node.output[0], {"out": int(w.shape[1]), "act": "none"},
                  {"weight": w.T, "bias": np.zeros(w.shape[1])}, (1, int(w.shape[1])))

    def op_Softmax(self, node, at):
        x = self.data_inputs(node)[0]
        if self.chan[x][0] != 1 or at.get("axis", -1) not in (-1, 1):
            self.fail(node, "only a softmax over a feature vector is supported")
        self.emit("softmax", [x], node.output[0])


def onnx_to_graph(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], Dict[str, Any]]:
    """Convert an ONNX graph (detector, classifier) into tinycrnn tensors and a graph ``arch`` block.

    Returns:
        ``(tensors, arch, info)``; ``arch`` has ``input`` (``name`` "x", ``channels``, ``height``
        when the ONNX input fixes it), ``layers`` (each naming ``inputs`` and ``output``) and
        ``outputs``; ``info`` has ``producer``, ``input_name`` and ``onnx_output``.

    Raises:
        MissingDependencyError: the ``onnx`` package is not installed.
        WeightFormatError: an op or pattern the importer does not handle (naming the node).
    """
    from .onnx_fuse import fuse, finish

    model = load_onnx(path)
    g = FoldedGraph(model)
    b = _Builder(g)
    b.run()
    output = b.v(g.output)
    layers = fuse(b.layers, output)
    tensors, layers, output = finish(layers, g.input.name, output)
    arch = {"name": "onnx_graph", "input": {"name": "x", "channels": b.channels, "height": b.dims[2]},
            "layers": layers, "outputs": [output]}
    info = {"producer": model.producer_name, "input_name": g.input.name, "onnx_output": g.output}
    return tensors, arch, info
