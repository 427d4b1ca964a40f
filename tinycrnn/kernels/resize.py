"""Numba twin of ``ref.resize_linear_ref``: OpenCV's fixed-point bilinear resize of uint8 images.

Pixels: integer arithmetic only (int32 is enough: a row value is at most 2049 * 255, a vertical product
2048 * (522495 >> 4) < 2**27). Coefficient tables: the same IEEE double and float32 operations as
``resample.linear_coefficients``, each correctly rounded; ``NUMBA_FLAGS_EXACT`` has no fastmath, so LLVM
neither reassociates nor contracts them into FMAs, and the tables are the same bytes on every CPU
(tests/test_resize.py compares them with the NumPy ones). Computing them here rather than in NumPy
saves ~15 small array operations per line (more than the resize itself). Channels are flattened into
the row (H, W*C) with per-channel taps, so one loop serves gray and BGR and the vertical blend vectorises.
"""
import math

import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT


@njit(**NUMBA_FLAGS_EXACT)
def _coefficients(src, dst, clamp, cn, t):
    # t: (4, dst*cn) int32 <- first tap index, second tap index (both already * cn + channel), w0, w1
    scale = 1.0 / (float(dst) / float(src))
    one = np.float32(2048.0)
    for d in range(dst):
        f = np.float32((d + 0.5) * scale - 0.5)
        i0 = math.floor(f)
        frac = f - np.float32(i0)
        if clamp and (i0 < 0 or i0 >= src - 1):
            frac = np.float32(0.0)
            i0 = min(max(i0, 0), src - 1)
        a = min(max(i0, 0), src - 1)
        b = min(max(i0 + 1, 0), src - 1)
        w0 = np.int32(np.rint((np.float32(1.0) - frac) * one))
        w1 = np.int32(np.rint(frac * one))
        for k in range(cn):
            j = d * cn + k
            t[0, j] = a * cn + k
            t[1, j] = b * cn + k
            t[2, j] = w0
            t[3, j] = w1


@njit(**NUMBA_FLAGS_EXACT)
def _resize_linear(img, cn, xt, yt, rows, out):
    # img (H, W*cn) u8, out (h, w*cn) u8; xt (4, w*cn), yt (4, h), rows (2, w*cn) int32 scratch.
    # Source row i, after the horizontal pass, lives in rows[i & 1]: an output row's two taps are
    # equal or adjacent, so they never want the same slot, and each source row is computed once.
    H, Wc = img.shape
    h, wc = out.shape
    _coefficients(Wc // cn, wc // cn, True, cn, xt)
    _coefficients(H, h, False, 1, yt)
    held0 = -1
    held1 = -1
    for y in range(h):
        for t in range(2):
            s = yt[t, y]
            if (held0 if s & 1 == 0 else held1) != s:
                row = img[s]
                r = rows[s & 1]
                for x in range(wc):
                    r[x] = xt[2, x] * np.int32(row[xt[0, x]]) + xt[3, x] * np.int32(row[xt[1, x]])
                if s & 1 == 0:
                    held0 = s
                else:
                    held1 = s
        r0 = rows[yt[0, y] & 1]
        r1 = rows[yt[1, y] & 1]
        b0 = yt[2, y]
        b1 = yt[3, y]
        o = out[y]
        for x in range(wc):
            o[x] = np.uint8((((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2)


def coefficients(src, dst, clamp):
    """The kernel's tables for one axis as ``resample.linear_coefficients`` returns them (for tests)."""
    t = np.empty((4, dst), np.int32)
    _coefficients(src, dst, clamp, 1, t)
    return t[0], t[1], t[2], t[3]


def resize_linear(img, width, height):
    """(H, W, C) C-contiguous uint8 -> (height, width, C) uint8."""
    H, W, cn = img.shape
    out = np.empty((height, width * cn), np.uint8)
    xt = np.empty((4, width * cn), np.int32)
    yt = np.empty((4, height), np.int32)
    rows = np.empty((2, width * cn), np.int32)
    _resize_linear(img.reshape(H, W * cn), cn, xt, yt, rows, out)
    return out.reshape(height, width, cn)
