"""Ops that make a layer list a graph (a DB detector's FPN neck, MobileNetV3's residuals, a classifier head).

``add`` and ``concat`` read several values; each input may be nearest-up-sampled on the way in
(``up``: one ``[fh, fw]`` integer pair per input, default ``[1, 1]``), which is how the importer
folds ONNX ``Resize`` (nearest, asymmetric, floor) into its consumer. ``conv_transpose2d`` is the
DB head's up-convolution, ``affine`` a per-channel ``x * scale + shift`` that could not be folded
into a neighbouring conv, ``act`` a standalone activation, ``global_avg_pool`` (C, H, W) -> (C,).
"""
from ..errors import WeightFormatError
from . import register
from .base import Op


def _act_param(op: Op) -> str:
    from ..kernels.ref_graph import GRAPH_ACTIVATIONS

    act = op.spec.get("act", "none")
    if act not in GRAPH_ACTIVATIONS:
        raise WeightFormatError(f"layer {op.name!r}: activation {act!r} unknown; known: {', '.join(GRAPH_ACTIVATIONS)}")
    return act


def _writable(x) -> bool:
    """Whether a dying value's buffer can take the op's output (NCHW memory, float32, writable)."""
    return x.dtype.name == "float32" and x.flags.c_contiguous and x.flags.writeable


class _UpInputs(Op):
    """Shared checks of add / concat: image inputs, one up-sampling pair per input, equal sizes after it."""

    multi_input = True

    def build(self, tensors, in_shapes):
        if len(in_shapes) < 2 or any(len(s) != 3 for s in in_shapes):
            raise WeightFormatError(f"layer {self.name!r} ({self.kind}): needs two or more image inputs, got {in_shapes}")
        ups = self.spec.get("up", [[1, 1]] * len(in_shapes))
        if not (isinstance(ups, list) and len(ups) == len(in_shapes)):
            raise WeightFormatError(f"layer {self.name!r}: 'up' must list one [fh, fw] per input")
        self.ups = []
        for up in ups:
            if not (isinstance(up, list) and len(up) == 2 and all(isinstance(v, int) and v >= 1 for v in up)):
                raise WeightFormatError(f"layer {self.name!r}: up-sampling factor {up!r} is not a pair of ints >= 1")
            self.ups.append((up[0], up[1]))
        self.check_sizes(in_shapes)

    def check_sizes(self, in_shapes):
        sizes = {(s[1] * fh, s[2] * fw) for s, (fh, fw) in zip(in_shapes, self.ups)}
        if len(sizes) != 1:
            raise WeightFormatError(f"layer {self.name!r} ({self.kind}): inputs {in_shapes} up-sampled by {self.ups} "
                                    "do not have one size")
        return sizes.pop()


@register("add")
class Add(_UpInputs):
    def build(self, tensors, in_shapes):
        super().build(tensors, in_shapes)
        if len({s[0] for s in in_shapes}) != 1:
            raise WeightFormatError(f"layer {self.name!r} (add): channel counts differ: {in_shapes}")
        self.act = _act_param(self)

    def out_shape(self, in_shapes):
        return (in_shapes[0][0],) + self.check_sizes(in_shapes)

    def __call__(self, *xs):
        return self.kernels.add(xs, self.ups, self.act)

    def call_donated(self, *xs):
        own = self.ups[0] == (1, 1) and _writable(xs[0])
        return self.kernels.add(xs, self.ups, self.act, out=xs[0] if own else None)


@register("concat")
class Concat(_UpInputs):
    """Concatenation over the channel axis."""

    def out_shape(self, in_shapes):
        return (sum(s[0] for s in in_shapes),) + self.check_sizes(in_shapes)

    def __call__(self, *xs):
        return self.kernels.concat(xs, self.ups)


@register("upsample_nearest")
class UpsampleNearest(Op):
    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: upsample_nearest needs an image input, got {in_shape}")
        self.up = self.param("up", kind="pair")
        if min(self.up) < 1:
            raise WeightFormatError(f"layer {self.name!r}: up-sampling factors must be >= 1, got {self.up}")

    def out_shape(self, in_shape):
        return (in_shape[0], in_shape[1] * self.up[0], in_shape[2] * self.up[1])

    def __call__(self, x):
        return self.kernels.upsample_nearest(x, self.up)


@register("conv_transpose2d")
class ConvTranspose2d(Op):
    """Tensors ``{name}.weight`` (C, O, kh, kw) (ONNX layout, groups 1) and ``{name}.bias`` (O,) optional."""

    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: conv_transpose2d needs an image input, got {in_shape}")
        self.out = self.param("out", kind=int)
        self.k = self.param("k", kind="pair")
        self.s = self.param("s", [1, 1], kind="pair")
        self.p = self.param("p", [0, 0], kind="pair")
        self.act = _act_param(self)
        if min(self.k) < 1 or min(self.s) < 1 or self.out < 1:
            raise WeightFormatError(f"layer {self.name!r}: invalid conv_transpose2d k={self.k} s={self.s}")
        weight = self.tensor(tensors, "weight", (in_shape[0], self.out) + self.k)
        self.bias = self.tensor(tensors, "bias", (self.out,), optional=True)
        self.shape = tuple(weight.shape)
        self.weight = self.kernels.pack_conv_transpose(weight)

    def out_shape(self, in_shape):
        _, h, w = in_shape
        return (self.out, (h - 1) * self.s[0] - 2 * self.p[0] + self.k[0], (w - 1) * self.s[1] - 2 * self.p[1] + self.k[1])

    def __call__(self, x):
        return self.kernels.conv_transpose2d(x, self.weight, self.shape, self.bias, self.s, self.p, self.act)


@register("affine")
class Affine(Op):
    """``x * scale[c] + shift[c]``; tensors ``{name}.scale`` and ``{name}.shift`` (C,)."""

    def build(self, tensors, in_shape):
        self.scale = self.tensor(tensors, "scale", (in_shape[0],))
        self.shift = self.tensor(tensors, "shift", (in_shape[0],))

    def out_shape(self, in_shape):
        return in_shape

    def __call__(self, x):
        return self.kernels.affine(x, self.scale, self.shift)

    def call_donated(self, x):
        return self.kernels.affine(x, self.scale, self.shift, out=x if _writable(x) else None)


@register("act")
class Act(Op):
    def build(self, tensors, in_shape):
        self.act = _act_param(self)

    def out_shape(self, in_shape):
        return in_shape

    def __call__(self, x):
        return self.kernels.act(x, self.act)

    def call_donated(self, x):
        return self.kernels.act(x, self.act, out=x if _writable(x) else None)


@register("global_avg_pool")
class GlobalAvgPool(Op):
    """(C, H, W) -> (C,): ONNX ``GlobalAveragePool`` followed by a flatten."""

    def build(self, tensors, in_shape):
        if len(in_shape) != 3:
            raise WeightFormatError(f"layer {self.name!r}: global_avg_pool needs an image input, got {in_shape}")

    def out_shape(self, in_shape):
        return (in_shape[0],)

    def __call__(self, x):
        return self.kernels.global_avg_pool(x)
