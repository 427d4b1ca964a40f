"""linear: ``y = x @ W.T + b`` over the feature axis of a sequence, with a fused activation.

``"quant": "int8"`` layers hold ``{name}.w_q`` int8 (O, I) and ``.w_scale`` (O,) float32; inputs
are quantised per line at run time (``tinycrnn.quant``).
"""
import numpy as np

from ..errors import WeightFormatError
from . import register
from .base import Op


@register("linear")
class Linear(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) not in (1, 2):
            raise WeightFormatError(f"layer {self.name!r}: linear needs a sequence (T, F) or a vector (F,), got {in_shape}")
        self.out = self.param("out", kind=int)
        self.act = self.check_activation()
        self.bias = self.tensor(tensors, "bias", (self.out,), optional=True)
        self.quant = self.spec.get("quant", "none")
        if self.quant == "int8":
            w_q = self.tensor(tensors, "w_q", (self.out, in_shape[-1]), dtype=np.int8)
            self.weight = self.kernels.pack_linear_int8(w_q, self.tensor(tensors, "w_scale", (self.out,)))
        elif self.quant == "none":
            self.weight = self.kernels.pack_linear(self.tensor(tensors, "weight", (self.out, in_shape[-1])))
        else:
            raise WeightFormatError(f"layer {self.name!r}: quant {self.quant!r} unsupported (none, int8)")

    def out_shape(self, in_shape):
        return tuple(in_shape[:-1]) + (self.out,)

    def __call__(self, x):
        if self.quant == "int8":
            return self.kernels.linear_int8(x, self.weight, self.bias, self.act)
        return self.kernels.linear(x, self.weight, self.bias, self.act)
