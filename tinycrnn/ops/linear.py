"""linear: ``y = x @ W.T + b`` over the feature axis of a sequence, with a fused activation."""
from ..errors import WeightFormatError
from . import register
from .base import Op


@register("linear")
class Linear(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 2:
            raise WeightFormatError(f"layer {self.name!r}: linear needs a sequence input (T, F), got shape {in_shape}")
        self.out = self.param("out", kind=int)
        self.act = self.check_activation()
        self.weight = self.tensor(tensors, "weight", (self.out, in_shape[1]))
        self.bias = self.tensor(tensors, "bias", (self.out,), optional=True)

    def out_shape(self, in_shape):
        return (in_shape[0], self.out)

    def __call__(self, x):
        return self.kernels.linear(x, self.weight, self.bias, self.act)
