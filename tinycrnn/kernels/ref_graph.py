"""Plain-NumPy twins of the graph kernels (detector / classifier ops): the definitions tests compare against.

Upsampling is ONNX ``Resize`` nearest with integer scales, ``asymmetric`` coordinates and ``floor``
rounding (what paddle2onnx writes): ``out[y, x] = in[y // fh, x // fw]``. No Numba here, ever.
"""
import numpy as np

from .ref import activate_ref

#: activations the graph ops take (``sigmoid`` only where the op fuses it: conv_transpose2d, act)
GRAPH_ACTIVATIONS = ("none", "relu", "hardswish", "hardsigmoid", "sigmoid")


def activate_graph_ref(y: np.ndarray, act: str) -> np.ndarray:
    """:func:`activate_ref` plus ``sigmoid``; in place, returns ``y``."""
    if act == "sigmoid":
        with np.errstate(over="ignore"):  # exp(-y) -> inf for y < -88 gives the right limit, 0
            y[...] = 1.0 / (1.0 + np.exp(-y))
        return y
    return activate_ref(y, act)


def upsample_nearest_ref(x: np.ndarray, up) -> np.ndarray:  # (N, C, H, W) -> (N, C, H*fh, W*fw)
    """Nearest-neighbour up-sampling by integer factors ``up = (fh, fw)``."""
    fh, fw = up
    return np.ascontiguousarray(np.repeat(np.repeat(x, fh, axis=2), fw, axis=3), dtype=np.float32)


def add_ref(xs, ups, act: str = "none", out=None) -> np.ndarray:  # [(N, C, H/fh, W/fw)] -> (N, C, H, W)
    """Sum of the inputs, each first up-sampled by its ``(fh, fw)`` in ``ups``, then ``act`` (into ``out``
    when given; it may be ``xs[0]``)."""
    y = upsample_nearest_ref(xs[0], ups[0])
    for x, up in zip(xs[1:], ups[1:]):
        y += upsample_nearest_ref(x, up)
    return _into(activate_graph_ref(y, act), out)


def _into(y, out):
    if out is None:
        return y
    out[...] = y
    return out


def concat_ref(xs, ups) -> np.ndarray:  # [(N, Ci, H/fh, W/fw)] -> (N, sum Ci, H, W)
    """Channel concatenation of the inputs, each first up-sampled by its ``(fh, fw)``."""
    return np.concatenate([upsample_nearest_ref(x, up) for x, up in zip(xs, ups)], axis=1)


def affine_ref(x: np.ndarray, scale: np.ndarray, shift: np.ndarray, out=None) -> np.ndarray:  # (N, C, ...)
    """``x * scale[c] + shift[c]`` over the channel axis (axis 1), into ``out`` when given (may be ``x``)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return _into((x * scale.reshape(shape) + shift.reshape(shape)).astype(np.float32), out)


def act_ref(x: np.ndarray, act: str, out=None) -> np.ndarray:
    """A standalone activation, into ``out`` when given (may be ``x``)."""
    return _into(activate_graph_ref(np.array(x, dtype=np.float32), act), out)


def global_avg_pool_ref(x: np.ndarray) -> np.ndarray:  # (N, C, H, W) -> (N, C)
    """Mean over H and W."""
    return x.mean(axis=(2, 3), dtype=np.float32)


def conv_transpose2d_ref(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (C, O, kh, kw) float32 (ONNX / PyTorch ConvTranspose layout, groups 1)
    bias,  # (O,) or None
    stride=(1, 1),
    pad=(0, 0),
    act: str = "none",
) -> np.ndarray:  # (N, O, (H-1)*sh - 2*ph + kh, (W-1)*sw - 2*pw + kw)
    """Transposed convolution: every input pixel adds ``x[c] * w[c, :, i, j]`` at
    ``(y*sh + i - ph, x*sw + j - pw)``; then bias and activation."""
    n, c, h, w = x.shape
    _, o, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = pad
    full = np.zeros((n, o, (h - 1) * sh + kh, (w - 1) * sw + kw), np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + (h - 1) * sh + 1 : sh, j : j + (w - 1) * sw + 1 : sw] += np.einsum(
                "nchw,co->nohw", x, weight[:, :, i, j]).astype(np.float32)
    out = np.ascontiguousarray(full[:, :, ph : full.shape[2] - ph, pw : full.shape[3] - pw])
    if bias is not None:
        out += bias.reshape(1, o, 1, 1)
    return activate_graph_ref(out, act)


def conv2d_affine_ref(x, weight, bias, stride, pad, groups, act, scale, shift) -> np.ndarray:
    """A conv (``ref.conv2d_ref``) followed by :func:`affine_ref` (an affine layer folded into the conv by the graph)."""
    from .ref import conv2d_ref

    return affine_ref(conv2d_ref(x, weight, bias, stride, pad, groups, act), scale, shift)
