"""Numba conv2d: im2col packing in Numba, one BLAS SGEMM per group, fused bias + activation.

# w (O, C*kh*kw) @ cols (C*kh*kw, N*Ho*Wo) -> y (O, N*Ho*Wo), scattered to (N, O, Ho, Wo)

A 1x1 stride-1 convolution of a single image skips packing: its input already is the matrix.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from .activations import ACT_CODES, _bias_act_scatter


@njit(**NUMBA_FLAGS_EXACT)
def _im2col(x, c0, c_len, kh, kw, sh, sw, ph, pw, ho, wo, cols):
    # x (N, C, H, W) float32; channels [c0, c0 + c_len) -> cols (c_len*kh*kw, N*ho*wo)
    n, _, h, w = x.shape
    p_len = ho * wo
    for ci in range(c_len):
        for i in range(kh):
            for j in range(kw):
                row = (ci * kh + i) * kw + j
                # output columns whose input column lies inside the image
                lo = 0
                while lo < wo and lo * sw - pw + j < 0:
                    lo += 1
                hi = wo
                while hi > lo and (hi - 1) * sw - pw + j >= w:
                    hi -= 1
                for b in range(n):
                    for oy in range(ho):
                        dst = b * p_len + oy * wo
                        iy = oy * sh - ph + i
                        if iy < 0 or iy >= h:
                            for ox in range(wo):
                                cols[row, dst + ox] = 0.0
                            continue
                        for ox in range(lo):
                            cols[row, dst + ox] = 0.0
                        for ox in range(lo, hi):
                            cols[row, dst + ox] = x[b, c0 + ci, iy, ox * sw - pw + j]
                        for ox in range(hi, wo):
                            cols[row, dst + ox] = 0.0


def conv2d(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (O, C/groups, kh, kw) float32
    bias,  # (O,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    groups: int = 1,
    act: str = "none",
) -> np.ndarray:  # (N, O, Ho, Wo) float32
    """Convolution (PyTorch semantics) + bias + activation; see the module docstring for the design."""
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    p_len = ho * wo
    og = o // groups
    x = np.ascontiguousarray(x, dtype=np.float32)
    wmat = weight.reshape(o, cg * kh * kw)
    b = bias if bias is not None else np.zeros(o, np.float32)
    out = np.empty((n, o, ho, wo), np.float32)
    cols = None
    for g in range(groups):
        if n == 1 and kh == kw == 1 and sh == sw == 1 and ph == pw == 0:
            cols_g = x[0, g * cg : (g + 1) * cg].reshape(cg, p_len)
        else:
            if cols is None:
                cols = np.empty((cg * kh * kw, n * p_len), np.float32)
            _im2col(x, g * cg, cg, kh, kw, sh, sw, ph, pw, ho, wo, cols)
            cols_g = cols
        y = wmat[g * og : (g + 1) * og] @ cols_g
        _bias_act_scatter(y, b[g * og : (g + 1) * og], ACT_CODES[act], out[:, g * og : (g + 1) * og].reshape(n, og, p_len))
    return out
