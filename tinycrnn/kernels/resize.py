"""Numba twin of ``ref.resize_linear_ref``: OpenCV's fixed-point bilinear resize of uint8 images.

Integer arithmetic only (int32 is enough: a row value is at most 2049 * 255 and a vertical product
2048 * (522495 >> 4) < 2**27), so the result is the same bytes on every CPU; see ``tinycrnn/resample.py``
for why the engine does not call ``cv2.resize``. One pass per output row: the two source rows it
needs go through the horizontal pass into a two-row buffer, once per source row (upscaling
reuses them over several output rows), then the vertical blend.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT


@njit(**NUMBA_FLAGS_EXACT)
def _hpass(row, x0, x1, a0, a1, out):
    w, c = out.shape
    for x in range(w):
        i0, i1, c0, c1 = x0[x], x1[x], np.int32(a0[x]), np.int32(a1[x])
        for k in range(c):
            out[x, k] = c0 * np.int32(row[i0, k]) + c1 * np.int32(row[i1, k])


@njit(**NUMBA_FLAGS_EXACT)
def _resize_linear(img, x0, x1, a0, a1, y0, y1, b0, b1, out, rows):
    # rows: (2, w, C) int32; source row i after its horizontal pass lives in slot i & 1 (an output
    # row's two taps are equal or adjacent, so they never want the same slot)
    h, w, c = out.shape
    held = np.full(2, -1, np.int64)
    for y in range(h):
        for src in (y0[y], y1[y]):
            if held[src & 1] != src:
                _hpass(img[src], x0, x1, a0, a1, rows[src & 1])
                held[src & 1] = src
        r0, r1 = rows[y0[y] & 1], rows[y1[y] & 1]
        bb0, bb1 = np.int32(b0[y]), np.int32(b1[y])
        o = out[y]
        for x in range(w):
            for k in range(c):
                v = ((bb0 * (r0[x, k] >> 4)) >> 16) + ((bb1 * (r1[x, k] >> 4)) >> 16) + 2
                o[x, k] = np.uint8(v >> 2)


def resize_linear(img, x0, x1, a0, a1, y0, y1, b0, b1):
    """(H, W, C) C-contiguous uint8 -> (h, w, C) uint8; the tables as ``resample.linear_coefficients`` makes them."""
    out = np.empty((y0.shape[0], x0.shape[0], img.shape[2]), np.uint8)
    rows = np.empty((2, x0.shape[0], img.shape[2]), np.int32)
    _resize_linear(img, x0, x1, a0, a1, y0, y1, b0, b1, out, rows)
    return out
