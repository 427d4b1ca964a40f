"""Numba squeeze-and-excitation (the channel attention of PP-OCR's MobileNetV1Enhance).

# s = hardsigmoid(w2 @ relu(w1 @ mean_hw(x) + b1) + b2) ; out = x * (s + residual)[:, None, None]

``pad_sum`` (C,) / ``pad_n``: the mean is taken as if the map had ``pad_n / H`` more columns whose per-channel sum
is ``pad_sum`` (blank padding a line recogniser was trained with, :meth:`tinycrnn.ops.se.SqueezeExcite.padded`);
the output keeps the map's own columns. Zero and 0: the plain mean, bit for bit.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS


@njit(**NUMBA_FLAGS)
def _se_loop(x, w1, b1, w2, b2, alpha, beta, plus, pad_sum, pad_n, pooled, hid, out):
    # x (N, C, H, W); w1 (R, C); b1 (R,); w2 (C, R); b2 (C,); pad_sum (C,); scratch pooled (C,), hid (R,); out like x
    n, c, h, w = x.shape
    r_len = w1.shape[0]
    inv = np.float32(1.0) / np.float32(h * w + pad_n)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for b in range(n):
        for ci in range(c):
            s = zero
            for iy in range(h):
                for ix in range(w):
                    s += x[b, ci, iy, ix]
            pooled[ci] = (s + pad_sum[ci]) * inv
        for r in range(r_len):
            acc = b1[r]
            for ci in range(c):
                acc += w1[r, ci] * pooled[ci]
            hid[r] = acc if acc > zero else zero
        for ci in range(c):
            acc = b2[ci]
            for r in range(r_len):
                acc += w2[ci, r] * hid[r]
            g = min(max(alpha * acc + beta, zero), one) + plus
            for iy in range(h):
                for ix in range(w):
                    out[b, ci, iy, ix] = x[b, ci, iy, ix] * g


@njit(**NUMBA_FLAGS)
def _se_nhwc(x, w1, b1, w2, b2, alpha, beta, plus, pad_sum, pad_n, pooled, hid, gate, out):
    # as _se_loop on NHWC memory: x, out (N, H, W, C); scratch gate (C,)
    n, h, w, c = x.shape
    r_len = w1.shape[0]
    inv = np.float32(1.0) / np.float32(h * w + pad_n)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for b in range(n):
        for ci in range(c):
            pooled[ci] = pad_sum[ci]
        for iy in range(h):
            for ix in range(w):
                px = x[b, iy, ix]
                for ci in range(c):
                    pooled[ci] += px[ci]
        for ci in range(c):
            pooled[ci] *= inv
        for r in range(r_len):
            acc = b1[r]
            for ci in range(c):
                acc += w1[r, ci] * pooled[ci]
            hid[r] = acc if acc > zero else zero
        for ci in range(c):
            acc = b2[ci]
            for r in range(r_len):
                acc += w2[ci, r] * hid[r]
            gate[ci] = min(max(alpha * acc + beta, zero), one) + plus
        for iy in range(h):
            for ix in range(w):
                px = x[b, iy, ix]
                po = out[b, iy, ix]
                for ci in range(c):
                    po[ci] = px[ci] * gate[ci]


def se(
    x: np.ndarray,  # (N, C, H, W) float32
    w1: np.ndarray,  # (R, C) float32
    b1: np.ndarray,  # (R,) float32
    w2: np.ndarray,  # (C, R) float32
    b2: np.ndarray,  # (C,) float32
    alpha: float = 1.0 / 6.0,
    beta: float = 0.5,
    residual: bool = False,
    out=None,
    pad_sum=None,  # (C,) float32: the per-channel sum of pad_n / H virtual columns (module docstring)
    pad_n: int = 0,
) -> np.ndarray:  # (N, C, H, W) float32
    """Squeeze-and-excitation: channel gates from the global mean, hard-sigmoid, channel scale
    (``residual``: ``x * (gate + 1)``, the block plus its input, as a DB neck's RSE layers add),
    into ``out`` when given (NCHW float32; may be ``x``); ``pad_sum``/``pad_n`` add virtual columns to the mean. An ``x`` with NHWC memory (:func:`.conv.nhwc_of`) and no
    ``out`` gives an NHWC-memory result (an NCHW view), so a following concat and Winograd conv need no copies."""
    # NOTE: out may be x itself: each line's channel means are all taken before any channel is written
    from .conv import nhwc_of

    pad = np.zeros(x.shape[1], np.float32) if pad_sum is None else np.ascontiguousarray(pad_sum, dtype=np.float32)
    xh = nhwc_of(x)
    if xh is not None and out is None:
        # NHWC memory in (a Winograd conv's output, PP-OCRv4 detector's FPN): NHWC memory out, no transposing copy
        oh = np.empty(xh.shape, np.float32)
        _se_nhwc(xh, w1, b1, w2, b2, np.float32(alpha), np.float32(beta), np.float32(1.0 if residual else 0.0),
                 pad, int(pad_n), np.empty(x.shape[1], np.float32), np.empty(w1.shape[0], np.float32),
                 np.empty(x.shape[1], np.float32), oh)
        return oh.transpose(0, 3, 1, 2)
    if out is None:
        out = np.empty(x.shape, np.float32)
    _se_loop(np.ascontiguousarray(x, dtype=np.float32), w1, b1, w2, b2, np.float32(alpha), np.float32(beta),
             np.float32(1.0 if residual else 0.0), pad, int(pad_n),
             np.empty(x.shape[1], np.float32), np.empty(w1.shape[0], np.float32), out)
    return out
