"""softmax: probabilities over the class axis, for models whose graph ends in Softmax
(their manifest says ``decode.output: "probs"``)."""
import numpy as np

from ..errors import WeightFormatError
from . import register
from .base import Op


@register("softmax")
class Softmax(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) not in (1, 2):
            raise WeightFormatError(f"layer {self.name!r}: softmax needs a sequence (T, K) or a vector (K,), got {in_shape}")

    def out_shape(self, in_shape):
        return in_shape

    def __call__(self, x):
        # NOTE: in place when x is a writable float32 C-contiguous array: in a model x is the previous
        # op's fresh output (softmax is never a model's first op), and PP-OCR's (N, T, 6625) output is
        # 2 MB per line, whose fresh pages cost more than the exponentials (benchmarks/RESULTS.md).
        # Callers that keep x must pass a copy.
        if x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable:
            return self.kernels.softmax(x, out=x)
        return self.kernels.softmax(x)
