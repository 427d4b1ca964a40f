"""softmax: probabilities over the class axis, for models whose graph ends in Softmax
(their manifest says ``decode.output: "probs"``)."""
from ..errors import WeightFormatError
from . import register
from .base import Op


@register("softmax")
class Softmax(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 2:
            raise WeightFormatError(f"layer {self.name!r}: softmax needs a sequence input (T, K), got shape {in_shape}")

    def out_shape(self, in_shape):
        return in_shape

    def __call__(self, x):
        return self.kernels.softmax(x)
