"""conv2d: convolution with optional bias, optional groups and a fused activation.

``"quant": "int8"`` layers (groups == 1) hold ``{name}.w_q`` int8 (O, C, kh, kw) and ``.w_scale``
(O,) float32 instead of ``.weight``; inputs are quantised per line at run time (``tinycrnn.quant``):
to uint8 with zero-point 0 (the input must be non-negative, e.g. post-ReLU), except pointwise convs
(1x1, stride 1, no padding), whose inputs may have any sign (PP-OCR's follow HardSwish) and are
quantised to symmetric int8 with one scale per pixel.
"""
import numpy as np

from ..errors import WeightFormatError
from . import register
from .base import Op


@register("conv2d")
class Conv2d(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: conv2d needs an image input, got shape {in_shape}")
        c = in_shape[0]
        self.out = self.param("out", kind=int)
        self.k = self.param("k", kind="pair")
        self.s = self.param("s", [1, 1], kind="pair")
        self.p = self.param("p", [0, 0], kind="pair")
        self.groups = self.param("groups", 1, kind=int)
        self.act = self.check_activation()
        if min(self.k) < 1 or min(self.s) < 1 or self.groups < 1 or c % self.groups or self.out % self.groups:
            raise WeightFormatError(
                f"layer {self.name!r}: invalid conv2d k={self.k} s={self.s} groups={self.groups} for {c}->{self.out} channels"
            )
        self.quant = self.spec.get("quant", "none")
        if self.quant not in ("none", "int8") or (self.quant == "int8" and self.groups != 1):
            raise WeightFormatError(f"layer {self.name!r}: quant {self.quant!r} unsupported here (int8 needs groups == 1)")
        self.bias = self.tensor(tensors, "bias", (self.out,), optional=True)
        if self.quant == "int8":
            w_q = self.tensor(tensors, "w_q", (self.out, c) + self.k, dtype=np.int8)
            self.w_scale = np.ascontiguousarray(self.tensor(tensors, "w_scale", (self.out,)))
            self.pointwise = self.k == (1, 1) and self.s == (1, 1) and self.p == (0, 0)
            if self.pointwise:
                self.weight = self.kernels.pack_pointwise_int8(w_q, self.w_scale)
            else:
                self.weight = self.kernels.pack_conv_int8(w_q)
        else:
            weight = self.tensor(tensors, "weight", (self.out, c // self.groups) + self.k)
            self.weight = self.kernels.pack_conv(weight, self.groups)
        #: (scale, shift) of an affine layer the graph folded into this conv (graph.fuse_affines), else None
        self.post = None

    def out_shape(self, in_shape):
        _, h, w = in_shape
        return (
            self.out,
            (h + 2 * self.p[0] - self.k[0]) // self.s[0] + 1,
            (w + 2 * self.p[1] - self.k[1]) // self.s[1] + 1,
        )

    def __call__(self, x):
        if self.quant == "int8" and self.pointwise:
            return self.kernels.pointwise_int8(x, self.weight, self.bias, self.act)
        if self.quant == "int8":
            return self.kernels.conv2d_int8(x, self.weight, self.w_scale, self.bias, self.s, self.p, self.act)
        if self.post is not None:
            return self.kernels.conv2d_affine(x, self.weight, self.bias, self.s, self.p, self.groups, self.act, *self.post)
        return self.kernels.conv2d(x, self.weight, self.bias, self.s, self.p, self.groups, self.act)
