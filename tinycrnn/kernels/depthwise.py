"""Numba depthwise convolution (groups == C == O): a direct sliding window per channel.

# out[b, c, oy, ox] = act(bias[c] + sum_{i,j} w[c, i, j] * x[b, c, oy*sh - ph + i, ox*sw - pw + j])

The per-group GEMM of :mod:`tinycrnn.kernels.conv` does one tiny matrix product per channel
for these layers; a direct loop over the window is several times faster. The twin is
``ref.conv2d_ref`` with ``groups == C``.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS
from .activations import ACT_CODES, _act


@njit(**NUMBA_FLAGS)
def _depthwise_loop(x, w, bias, sh, sw, ph, pw, code, xp, acc, out):
    # x (N, C, H, W) float32; w (C, kh, kw) float32; bias (C,) float32; out (N, C, Ho, Wo) float32.
    # Scratch: xp (H + 2ph, W + 2pw) float32 with a zero border, acc (Wo,) float32.
    # Each channel is copied into the zero-bordered plane so the tap loops need no bounds checks
    # (and vectorise); one output row is accumulated in `acc`, tap by tap.
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    _, _, ho, wo = out.shape
    for b in range(n):
        for ci in range(c):
            for iy in range(h):
                for ix in range(wd):
                    xp[iy + ph, ix + pw] = x[b, ci, iy, ix]
            bc = bias[ci]
            for oy in range(ho):
                for ox in range(wo):
                    acc[ox] = bc
                for i in range(kh):
                    if oy * sh + i < ph or oy * sh + i >= h + ph:
                        continue  # a zero padding row: nothing to add (most rows of the 2- and 4-row maps)
                    xr = xp[oy * sh + i]
                    if sw == 1 and kw == 5:  # one pass per kernel row: acc is loaded/stored once, not kw times
                        w0, w1, w2, w3, w4 = w[ci, i, 0], w[ci, i, 1], w[ci, i, 2], w[ci, i, 3], w[ci, i, 4]
                        for ox in range(wo):
                            acc[ox] += w0 * xr[ox] + w1 * xr[ox + 1] + w2 * xr[ox + 2] + w3 * xr[ox + 3] + w4 * xr[ox + 4]
                    elif sw == 1 and kw == 3:
                        w0, w1, w2 = w[ci, i, 0], w[ci, i, 1], w[ci, i, 2]
                        for ox in range(wo):
                            acc[ox] += w0 * xr[ox] + w1 * xr[ox + 1] + w2 * xr[ox + 2]
                    else:
                        for j in range(kw):
                            wv = w[ci, i, j]
                            if sw == 1:
                                xs = xr[j : j + wo]
                                for ox in range(wo):
                                    acc[ox] += wv * xs[ox]
                            else:
                                for ox in range(wo):
                                    acc[ox] += wv * xr[ox * sw + j]
                for ox in range(wo):
                    out[b, ci, oy, ox] = _act(acc[ox], code)


def depthwise_conv2d(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (C, 1, kh, kw) float32
    bias,  # (C,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    act: str = "none",
) -> np.ndarray:  # (N, C, Ho, Wo) float32
    """Depthwise convolution (PyTorch ``Conv2d(groups=C)`` semantics) + bias + activation."""
    n, c, h, w = x.shape
    _, _, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    b = bias if bias is not None else np.zeros(c, np.float32)
    out = np.empty((n, c, ho, wo), np.float32)
    _depthwise_loop(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(weight.reshape(c, kh, kw)),
                    np.ascontiguousarray(b, dtype=np.float32), sh, sw, ph, pw, ACT_CODES[act],
                    np.zeros((h + 2 * ph, w + 2 * pw), np.float32), np.empty(wo, np.float32), out)
    return out
