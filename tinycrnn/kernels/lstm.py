"""Numba LSTM recurrence: BLAS computes every step's input projection at once, then one
compiled loop runs the T dependent steps without returning to Python.

# z_t = xw_t + h_{t-1} @ w_hh.T ; gates i, f, g, o (PyTorch order)
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS


@njit(**NUMBA_FLAGS)
def _lstm_recurrence(xw, whh_t, reverse, out, col0):
    # xw (N, T, 4H) float32; whh_t (H, 4H) float32 (w_hh transposed so gates are contiguous);
    # out (N, T, >= col0 + H) float32 receives h_t at column col0.
    n, t_len, g4 = xw.shape
    hid = g4 // 4
    h = np.zeros((n, hid), np.float32)
    c = np.zeros((n, hid), np.float32)
    z = np.empty((n, g4), np.float32)
    one = np.float32(1.0)
    for s in range(t_len):
        t = t_len - 1 - s if reverse else s
        for b in range(n):
            zb = z[b]
            zb[:] = xw[b, t]
            hb = h[b]
            for k in range(hid):
                hk = hb[k]
                wk = whh_t[k]
                for g in range(g4):
                    zb[g] += hk * wk[g]
            cb = c[b]
            for j in range(hid):
                ig = one / (one + np.exp(-zb[j]))
                fg = one / (one + np.exp(-zb[hid + j]))
                gg = np.tanh(zb[2 * hid + j])
                og = one / (one + np.exp(-zb[3 * hid + j]))
                cj = fg * cb[j] + ig * gg
                cb[j] = cj
                hj = og * np.tanh(cj)
                hb[j] = hj
                out[b, t, col0 + j] = hj


def bilstm(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional LSTM; ``fwd``/``bwd`` are ``(w_ih (4H, I), w_hh_t (H, 4H), b (4H,))``.

    ``w_hh_t`` is the recurrent matrix already transposed (the op does it once at load).
    """
    n, t_len, _ = x.shape
    hid = fwd[1].shape[0]
    out = np.empty((n, t_len, 2 * hid), np.float32)
    x2 = x.reshape(n * t_len, -1)
    for col0, (w_ih, w_hh_t, b), reverse in ((0, fwd, False), (hid, bwd, True)):
        xw = (x2 @ w_ih.T).reshape(n, t_len, 4 * hid)
        xw += b
        _lstm_recurrence(xw, w_hh_t, reverse, out, col0)
    return out
