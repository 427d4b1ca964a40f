"""Numba max pooling (floor mode, -inf padding) and the height mean. Both keep NHWC memory when
their input has it (an (N, C, H, W) view of an NHWC buffer, from the Winograd conv path; see
kernels/conv.py): channels innermost, every window max is a vector loop over channels."""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT


@njit(**NUMBA_FLAGS_EXACT)
def _maxpool2x2(x, out):
    # the common 2x2 / 2 pool, no padding: one pass, each output from its 4 inputs (3x faster than
    # _maxpool2d's row pass)
    n, c, h, w = x.shape
    _, _, ho, wo = out.shape
    for b in range(n):
        for ci in range(c):
            for oy in range(ho):
                r0 = x[b, ci, 2 * oy]
                r1 = x[b, ci, 2 * oy + 1]
                o = out[b, ci, oy]
                for ox in range(wo):
                    a = r0[2 * ox]
                    v = r1[2 * ox]
                    a = v if v > a else a
                    v = r0[2 * ox + 1]
                    a = v if v > a else a
                    v = r1[2 * ox + 1]
                    o[ox] = v if v > a else a


@njit(**NUMBA_FLAGS_EXACT)
def _maxpool2d(x, kh, kw, sh, sw, ph, pw, out, m):
    # any window on NCHW memory (no shipped model pools NCHW with other than 2x2 / 2; compiled on
    # first use only). m (W,) float32 scratch: the max over a window's kh rows
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
                    mx = -np.inf
                    for i in range(kh):
                        iy = oy * sh - ph + i
                        if iy < 0 or iy >= h:
                            continue
                        for j in range(kw):
                            ix = ox * sw - pw + j
                            if 0 <= ix < w:
                                v = x[b, ci, iy, ix]
                                if v > mx:
                                    mx = v
                    out[b, ci, oy, ox] = mx


@njit(**NUMBA_FLAGS_EXACT)
def _maxpool2d_nhwc(x, kh, kw, sh, sw, ph, pw, out):
    # x (N, H, W, C) -> out (N, Ho, Wo, C)
    n, h, w, c = x.shape
    _, ho, wo, _ = out.shape
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                o = out[b, oy, ox]
                for ci in range(c):
                    o[ci] = -np.inf
                for i in range(kh):
                    iy = oy * sh - ph + i
                    if iy < 0 or iy >= h:
                        continue
                    for j in range(kw):
                        ix = ox * sw - pw + j
                        if ix < 0 or ix >= w:
                            continue
                        r = x[b, iy, ix]
                        for ci in range(c):
                            v = r[ci]
                            o[ci] = v if v > o[ci] else o[ci]


def maxpool2d(x: np.ndarray, kernel=(2, 2), stride=(2, 2), pad=(0, 0)) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, Ho, Wo) float32 max pooling."""
    kh, kw = kernel
    sh, sw = stride
    ph, pw = pad
    n, c, h, w = x.shape
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    xh = x.transpose(0, 2, 3, 1)
    if x.dtype == np.float32 and xh.flags.c_contiguous and not x.flags.c_contiguous:
        out = np.empty((n, ho, wo, c), np.float32)
        _maxpool2d_nhwc(xh, kh, kw, sh, sw, ph, pw, out)
        return out.transpose(0, 3, 1, 2)
    out = np.empty((n, c, ho, wo), np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if kh == kw == sh == sw == 2 and ph == pw == 0:
        _maxpool2x2(x, out)
        return out
    _maxpool2d(x, kh, kw, sh, sw, ph, pw, out, np.empty(w, np.float32))
    return out


@njit(**NUMBA_FLAGS_EXACT)
def _mean_height(x, out):
    # x (N, C, H, W) -> out (N, W, C)
    # NOTE: output rows outer (contiguous stores, strided loads): channels outer stored one float per row, C * 4 bytes
    # apart, and PP-OCRv2's 512 x 80 map (rows 2 KB apart: two L1 sets) missed L1 on every store, 130 us; ~15 us
    # this way. The same sum per output, in the same order.
    n, c, h, w = x.shape
    inv = np.float32(1.0) / np.float32(h)
    for b in range(n):
        for ix in range(w):
            o = out[b, ix]
            for ci in range(c):
                o[ci] = np.float32(0.0)
            for iy in range(h):
                for ci in range(c):
                    o[ci] += x[b, ci, iy, ix]
            for ci in range(c):
                o[ci] *= inv


@njit(**NUMBA_FLAGS_EXACT)
def _mean_height_nhwc(x, out):
    # x (N, H, W, C) -> out (N, W, C)
    n, h, w, c = x.shape
    inv = np.float32(1.0) / np.float32(h)
    for b in range(n):
        for ix in range(w):
            o = out[b, ix]
            for ci in range(c):
                o[ci] = np.float32(0.0)
            for iy in range(h):
                r = x[b, iy, ix]
                for ci in range(c):
                    o[ci] += r[ci]
            for ci in range(c):
                o[ci] *= inv


def mean_height(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, W, C): the mean over height, channels last."""
    n, c, _, w = x.shape
    out = np.empty((n, w, c), np.float32)
    xh = x.transpose(0, 2, 3, 1)
    if x.dtype == np.float32 and xh.flags.c_contiguous and not x.flags.c_contiguous:
        _mean_height_nhwc(xh, out)
        return out
    _mean_height(np.ascontiguousarray(x, dtype=np.float32), out)
    return out
