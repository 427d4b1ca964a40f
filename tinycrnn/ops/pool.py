"""Pooling ops: maxpool2d, and mean_height (the bridge from a feature map to a sequence)."""
from ..errors import WeightFormatError
from . import register
from .base import Op


@register("maxpool2d")
class MaxPool2d(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: maxpool2d needs an image input, got shape {in_shape}")
        self.k = self.param("k", kind="pair")
        self.s = self.param("s", list(self.k), kind="pair")
        self.p = self.param("p", [0, 0], kind="pair")
        if min(self.k) < 1 or min(self.s) < 1 or self.p[0] * 2 > self.k[0] or self.p[1] * 2 > self.k[1]:
            raise WeightFormatError(f"layer {self.name!r}: invalid maxpool2d k={self.k} s={self.s} p={self.p}")

    def out_shape(self, in_shape):
        c, h, w = in_shape
        return (c, (h + 2 * self.p[0] - self.k[0]) // self.s[0] + 1, (w + 2 * self.p[1] - self.k[1]) // self.s[1] + 1)

    def __call__(self, x):
        return self.kernels.maxpool2d(x, self.k, self.s, self.p)


@register("mean_height")
class MeanHeight(Op):
    """(N, C, H, W) -> (N, T=W, C): mean over the remaining rows, channels last."""

    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: mean_height needs an image input, got shape {in_shape}")

    def out_shape(self, in_shape):
        c, h, w = in_shape
        return (w if h >= 1 else 0, c)

    def __call__(self, x):
        return self.kernels.mean_height(x)
