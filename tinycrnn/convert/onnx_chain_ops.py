"""The chain importer's single-node handlers (``onnx_chain.Mapper`` mixes them in): Conv, BatchNorm,
MaxPool, the CNN-to-sequence bridge (ReduceMean / Squeeze / Transpose / Reshape layouts), LSTM,
MatMul and Softmax. Each returns the name of the tensor it produced."""
from typing import List, Optional

import numpy as np

from .easyocr import fold_batchnorm
from .onnx_common import attrs as _attrs
from .onnx_fold import _Fill


class ChainOps:
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
