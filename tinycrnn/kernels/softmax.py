"""Numba softmax over the class axis (models whose graph ends in Softmax, e.g. PP-OCR).

# out[m, k] = exp(x[m, k] - max_k x[m]) / sum_k exp(x[m, k] - max_k x[m]), float32

``exp`` is Cephes' ``expf`` (range reduction by ln 2, degree-6 polynomial, relative error
about 1e-7), written out so the loop vectorises: scalar ``np.exp`` calls cost 4x more on
PP-OCR's 80 x 6625 output. The twin is ``ref.softmax_ref`` (NumPy ``exp``).
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS


@njit(**NUMBA_FLAGS)
def _row_max(xr, mv):
    # 16 independent running maxima (a vectorisable loop; a scalar max reduction is not vectorised)
    k_len = xr.shape[0]
    for lane in range(16):
        mv[lane] = xr[0]
    k0 = 0
    while k0 + 16 <= k_len:
        for lane in range(16):
            v = xr[k0 + lane]
            mv[lane] = v if v > mv[lane] else mv[lane]
        k0 += 16
    mx = mv[0]
    for lane in range(1, 16):
        mx = mv[lane] if mv[lane] > mx else mx
    for k in range(k0, k_len):
        mx = xr[k] if xr[k] > mx else mx
    return mx


@njit(**NUMBA_FLAGS)
def _softmax_row(row, n_buf, mv):
    # row (K,) float32 in place; scratch: n_buf (K,) int32 exponents, mv (16,) float32.
    # NOTE: one array read and written: with separate x / out arrays that may alias, LLVM guards the
    # vector loop with an overlap check and runs the scalar loop when they do (4x slower in place)
    k_len = row.shape[0]
    log2e = np.float32(1.44269504088896341)
    c1 = np.float32(0.693359375)
    c2 = np.float32(-2.12194440e-4)
    lo = np.float32(-87.0)
    half = np.float32(0.5)
    one = np.float32(1.0)
    mx = _row_max(row, mv)
    bits = row.view(np.int32)
    for k in range(k_len):
        v = max(row[k] - mx, lo)  # <= 0; below -87 the term is < 2e-38 of the largest
        fn = np.floor(v * log2e + half)
        r = (v - fn * c1) - fn * c2
        z = r * r
        p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
               + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
             + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
        row[k] = p * z + r + one
        n_buf[k] = np.int32(fn)
    for k in range(k_len):
        bits[k] += n_buf[k] << 23  # multiply by 2**n through the exponent field
    s = np.float32(0.0)
    for k in range(k_len):
        s += row[k]
    inv = one / s
    for k in range(k_len):
        row[k] *= inv


@njit(**NUMBA_FLAGS)
def _softmax_rows(x, out, n_buf, mv):
    # x (M, K) float32 -> out (M, K) float32 (distinct arrays)
    m_len, k_len = x.shape
    for m in range(m_len):
        row = out[m]
        for k in range(k_len):
            row[k] = x[m, k]
        _softmax_row(row, n_buf, mv)


@njit(**NUMBA_FLAGS)
def _softmax_rows_inplace(y, n_buf, mv):
    for m in range(y.shape[0]):
        _softmax_row(y[m], n_buf, mv)


def softmax(x: np.ndarray, out=None) -> np.ndarray:  # (..., K) float32 -> (..., K) float32
    """Softmax over the last axis in float32, into ``out`` (C-contiguous float32, x's shape; may be
    ``x`` itself: each row's max is taken before the row is overwritten) or a new array."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = x.shape[-1]
    if out is None:
        out = np.empty(x.shape, np.float32)
    if out is x:
        _softmax_rows_inplace(out.reshape(-1, k), np.empty(k, np.int32), np.empty(16, np.float32))
    else:
        _softmax_rows(x.reshape(-1, k), out.reshape(-1, k), np.empty(k, np.int32), np.empty(16, np.float32))
    return out
