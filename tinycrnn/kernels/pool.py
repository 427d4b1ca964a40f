"""Numba max pooling (floor mode, -inf padding)."""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT


@njit(**NUMBA_FLAGS_EXACT)
def _maxpool2d(x, kh, kw, sh, sw, ph, pw, out, m):
    # m (W,) float32 scratch: the max over a window's kh rows
    n, c, h, w = x.shape
    _, _, ho, wo = out.shape
    if ph == 0 and pw == 0:
        # every window lies inside the image: max over the kh rows first (contiguous, vectorises
        # with a select), then over kw columns; 3-6x faster than a per-pixel window max
        for b in range(n):
            for ci in range(c):
                for oy in range(ho):
                    r = x[b, ci, oy * sh]
                    for ix in range(w):
                        m[ix] = r[ix]
                    for i in range(1, kh):
                        r = x[b, ci, oy * sh + i]
                        for ix in range(w):
                            v = r[ix]
                            m[ix] = v if v > m[ix] else m[ix]
                    o = out[b, ci, oy]
                    for ox in range(wo):
                        a = m[ox * sw]
                        for j in range(1, kw):
                            v = m[ox * sw + j]
                            a = v if v > a else a
                        o[ox] = a
        return
    for b in range(n):
        for ci in range(c):
            for oy in range(ho):
                for ox in range(wo):
                    m = -np.inf
                    for i in range(kh):
                        iy = oy * sh - ph + i
                        if iy < 0 or iy >= h:
                            continue
                        for j in range(kw):
                            ix = ox * sw - pw + j
                            if 0 <= ix < w:
                                v = x[b, ci, iy, ix]
                                if v > m:
                                    m = v
                    out[b, ci, oy, ox] = m


def maxpool2d(x: np.ndarray, kernel=(2, 2), stride=(2, 2), pad=(0, 0)) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, Ho, Wo) float32 max pooling."""
    kh, kw = kernel
    sh, sw = stride
    ph, pw = pad
    n, c, h, w = x.shape
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, c, ho, wo), np.float32)
    _maxpool2d(np.ascontiguousarray(x, dtype=np.float32), kh, kw, sh, sw, ph, pw, out, np.empty(w, np.float32))
    return out


@njit(**NUMBA_FLAGS_EXACT)
def _mean_height(x, out):
    # x (N, C, H, W) -> out (N, W, C)
    n, c, h, w = x.shape
    inv = np.float32(1.0) / np.float32(h)
    for b in range(n):
        for ci in range(c):
            for ix in range(w):
                s = np.float32(0.0)
                for iy in range(h):
                    s += x[b, ci, iy, ix]
                out[b, ix, ci] = s * inv


def mean_height(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, W, C): the mean over height, channels last."""
    n, c, _, w = x.shape
    out = np.empty((n, w, c), np.float32)
    _mean_height(np.ascontiguousarray(x, dtype=np.float32), out)
    return out
