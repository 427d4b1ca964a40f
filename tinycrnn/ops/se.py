"""se: squeeze-and-excitation, a per-channel gate computed from the feature map's global mean.

Global average pool -> 1x1 conv + bias -> ReLU -> 1x1 conv + bias -> hard-sigmoid
``clip(alpha * v + beta, 0, 1)`` -> multiply each channel by its gate. Tensors:
``{name}.w1`` (R, C), ``{name}.b1`` (R,), ``{name}.w2`` (C, R), ``{name}.b2`` (C,).
``"residual": true`` (format_version 2 files): plus the input, ``x * (gate + 1)`` (a DB neck's RSE layer).

The global mean is the one op of a recogniser whose value depends on how far a line is padded: PaddleOCR pads
every line to at least 320 px of blank, and PP-OCRv2 was trained that way. :meth:`SqueezeExcite.padded` takes the
mean as if the map had more blank columns (``blank_sum``: one interior blank column's per-channel sum, set by
:meth:`tinycrnn.engine.Model.forward`), so a line read with a short margin gets the gates of a padded one.
"""
import numpy as np

from ..errors import WeightFormatError
from . import register
from .base import Op


@register("se")
class SqueezeExcite(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: se needs an image input, got shape {in_shape}")
        c = in_shape[0]
        r = self.param("reduced", kind=int)
        alpha = self.param("alpha", 1.0 / 6.0)
        beta = self.param("beta", 0.5)
        if r < 1 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (alpha, beta)):
            raise WeightFormatError(f"layer {self.name!r}: se needs reduced >= 1 and numeric alpha/beta")
        self.alpha, self.beta = float(alpha), float(beta)
        self.residual = self.spec.get("residual", False)
        if not isinstance(self.residual, bool):
            raise WeightFormatError(f"layer {self.name!r}: se residual must be true or false")
        self.w1 = self.tensor(tensors, "w1", (r, c))
        self.b1 = self.tensor(tensors, "b1", (r,))
        self.w2 = self.tensor(tensors, "w2", (c, r))
        self.b2 = self.tensor(tensors, "b2", (c,))
        #: (C,) sum over rows of one blank column of this layer's input, or None (see the module docstring)
        self.blank_sum = None

    def out_shape(self, in_shape):
        return in_shape

    def __call__(self, x):
        if self.residual:
            return self.kernels.se(x, self.w1, self.b1, self.w2, self.b2, self.alpha, self.beta, True)
        return self.kernels.se(x, self.w1, self.b1, self.w2, self.b2, self.alpha, self.beta)

    def padded(self, x, cols: int, donated: bool = False):
        """As ``self(x)`` but the mean also counts ``cols`` blank columns (:attr:`blank_sum` each); ``donated``:
        may write over ``x`` (as :meth:`call_donated`)."""
        if cols <= 0 or self.blank_sum is None:
            return self.call_donated(x) if donated else self(x)
        out = x if donated and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable else None
        return self.kernels.se(x, self.w1, self.b1, self.w2, self.b2, self.alpha, self.beta, self.residual, out,
                               np.float32(cols) * self.blank_sum, cols * x.shape[2])

    def call_donated(self, x):
        """Graph models: the gated map written over ``x`` when ``x`` dies here (tinycrnn/graph.py)."""
        if not (x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable):
            return self(x)
        return self.kernels.se(x, self.w1, self.b1, self.w2, self.b2, self.alpha, self.beta, self.residual, x)
