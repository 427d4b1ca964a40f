"""bilstm: a bidirectional LSTM layer, gates stored in PyTorch order (i, f, g, o).

Tensors per direction ``d`` in (fwd, bwd): ``{name}.{d}.w_ih`` (4H, I), ``{name}.{d}.w_hh``
(4H, H) and ``{name}.{d}.b`` (4H,) = b_ih + b_hh. Output ``[h_fwd(t), h_bwd(t)]`` (T, 2H).
``"quant": "int8"`` layers hold ``.w_ih_q`` / ``.w_hh_q`` int8 and ``.w_ih_scale`` / ``.w_hh_scale``
(4H,) float32 (per gate row) instead of ``.w_ih`` / ``.w_hh`` (``tinycrnn.quant``).
"""
import numpy as np

from ..errors import WeightFormatError
from . import register
from .base import Op


@register("bilstm")
class BiLSTM(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 2:
            raise WeightFormatError(f"layer {self.name!r}: bilstm needs a sequence input (T, F), got shape {in_shape}")
        self.hidden = self.param("hidden", kind=int)
        order = self.spec.get("gate_order", "ifgo")
        if order != "ifgo":
            raise WeightFormatError(f"layer {self.name!r}: gate_order {order!r} unsupported; files store 'ifgo'")
        h, i = self.hidden, in_shape[1]
        self.dirs = []
        self.quant = self.spec.get("quant", "none")
        if self.quant not in ("none", "int8"):
            raise WeightFormatError(f"layer {self.name!r}: quant {self.quant!r} unsupported (none, int8)")
        for d in ("fwd", "bwd"):
            if self.quant == "int8":
                self.dirs.append(self.kernels.pack_lstm_int8(
                    self.tensor(tensors, f"{d}.w_ih_q", (4 * h, i), dtype=np.int8),
                    self.tensor(tensors, f"{d}.w_ih_scale", (4 * h,)),
                    self.tensor(tensors, f"{d}.w_hh_q", (4 * h, h), dtype=np.int8),
                    self.tensor(tensors, f"{d}.w_hh_scale", (4 * h,)),
                    self.tensor(tensors, f"{d}.b", (4 * h,))))
                continue
            w_ih = self.tensor(tensors, f"{d}.w_ih", (4 * h, i))
            w_hh = self.tensor(tensors, f"{d}.w_hh", (4 * h, h))
            b = self.tensor(tensors, f"{d}.b", (4 * h,))
            self.dirs.append(self.kernels.pack_lstm(w_ih, w_hh, b))

    def out_shape(self, in_shape):
        return (in_shape[0], 2 * self.hidden)

    def __call__(self, x):
        if self.quant == "int8":
            return self.kernels.bilstm_int8(x, self.dirs[0], self.dirs[1])
        return self.kernels.bilstm(x, self.dirs[0], self.dirs[1])
