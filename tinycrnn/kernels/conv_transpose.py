"""Numba transposed convolution (groups 1): one SGEMM, then a col2im scatter with bias + activation fused.

# cols (O*kh*kw, N*H*W) = w^T (O*kh*kw, C) @ x (C, N*H*W)
# out[n, o, y*sh + i - ph, x*sw + j - pw] += cols[(o, i, j), (n, y, x)] ; then act(out + b[o])

NOTE: a DB head's two 2x2 stride-2 up-convolutions have k == s, so every output pixel receives
exactly one product sum; the scatter then writes instead of accumulating and needs no zeroed
buffer. Overlapping kernels (k > s) and padding take the accumulating path.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS
from .conv import nhwc_of
from .graph_ops import GRAPH_ACT_CODES, _act_graph

#: floats of GEMM result per band of the k == s path (fits L2 with its output rows)
DISJOINT_BAND_FLOATS = 65536


@njit(**NUMBA_FLAGS)
def _col2im_disjoint(cols, b, y0, w, kh, kw, bias, code, out):
    # k == s, no padding, input rows y0.. of image b, cols (O*kh*kw, rows*w):
    # out[b, o, y*kh + i, x*kw + j] = act(cols[(o*kh + i)*kw + j, (y - y0)*w + x] + bias[o])
    o_len = out.shape[1]
    rows = cols.shape[1] // w
    for o in range(o_len):
        bo = bias[o]
        for i in range(kh):
            for r in range(rows):
                orow = out[b, o, (y0 + r) * kh + i]
                for j in range(kw):
                    src = cols[(o * kh + i) * kw + j, r * w : (r + 1) * w]
                    for x in range(w):
                        orow[x * kw + j] = _act_graph(src[x] + bo, code)


@njit(**NUMBA_FLAGS)
def _col2im_acc(cols, n, h, w, kh, kw, sh, sw, ph, pw, bias, code, out):
    o_len, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    for b in range(n):
        for o in range(o_len):
            plane = out[b, o]
            plane[:, :] = np.float32(0.0)
            for i in range(kh):
                for j in range(kw):
                    row = cols[(o * kh + i) * kw + j]
                    for y in range(h):
                        oy = y * sh + i - ph
                        if oy < 0 or oy >= ho:
                            continue
                        for x in range(w):
                            ox = x * sw + j - pw
                            if 0 <= ox < wo:
                                plane[oy, ox] += row[(b * h + y) * w + x]
            bo = bias[o]
            for oy in range(ho):
                for ox in range(wo):
                    plane[oy, ox] = _act_graph(plane[oy, ox] + bo, code)


def pack_conv_transpose(weight: np.ndarray) -> np.ndarray:
    """(C, O, kh, kw) -> the GEMM's left operand (O*kh*kw, C), packed once at load."""
    c = weight.shape[0]
    return np.ascontiguousarray(weight.reshape(c, -1).T, dtype=np.float32)


def conv_transpose2d(x, wt, shape, bias, stride=(1, 1), pad=(0, 0), act: str = "none") -> np.ndarray:
    """Transposed convolution of ``x`` (N, C, H, W) with the packed weight ``wt`` of a (C, O, kh, kw) ``shape``."""
    c, o, kh, kw = shape
    n, _, h, w = x.shape
    sh, sw = stride
    ph, pw = pad
    b = bias if bias is not None else np.zeros(o, np.float32)
    ho, wo = (h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw
    out = np.empty((n, o, ho, wo), np.float32)
    code = GRAPH_ACT_CODES[act]
    xh = nhwc_of(x)
    if xh is not None:  # NHWC memory (a Winograd conv's output): the GEMM reads it transposed, no copy
        xm = xh.reshape(n * h * w, c).T
    else:
        xm = np.ascontiguousarray(np.ascontiguousarray(x, dtype=np.float32).transpose(1, 0, 2, 3)).reshape(c, -1)
    if (kh, kw) == (sh, sw) and (ph, pw) == (0, 0):
        # NOTE: a band of input rows at a time: its GEMM result (~256 KB) is scattered while still in L2,
        # instead of one O*kh*kw x N*H*W matrix (17 MB on the DB head's upconv.0) written to memory and read back
        rows = max(1, min(h, DISJOINT_BAND_FLOATS // (o * kh * kw * w)))
        for bi in range(n):
            for y0 in range(0, h, rows):
                p0 = (bi * h + y0) * w
                _col2im_disjoint(wt @ xm[:, p0 : p0 + min(rows, h - y0) * w], bi, y0, w, kh, kw, b, code, out)
    else:
        _col2im_acc(wt @ xm, n, h, w, kh, kw, sh, sw, ph, pw, b, code, out)
    return out
