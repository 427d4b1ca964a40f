"""Numba LSTM: every step's input projection at once (the FMA tile on AVX-512, bias fused; BLAS
otherwise), then one compiled loop runs the T dependent steps without returning to Python.

# z_t = xw_t + h_{t-1} @ w_hh.T ; gates i, f, g, o (PyTorch order)

NOTE: the recurrent product is the register-tiled FMA micro-kernel over ``w_hh`` packed as
(4H/32, H, 32): up to 8 lines of a batch form the tile's rows, so each weight vector loaded from
L2 serves every line (the old per-line loop re-read all of w_hh once per line, which is why a
batch of 8 was slower per line than single lines), and the 16 zmm accumulators stay in
registers over the whole H-long dot product (the auto-vectorised loop used ymm and stored z
back every k). Without AVX-512 the same tile runs as plain loops.
NOTE: one line's recurrence is bound by streaming the 1 MB w_hh from L2 each step (~10 us per
step, ~100 GB/s). Running the forward and backward directions interleaved in one loop (two
independent mat-vecs per step) was measured 1.9x slower: the two w_hh no longer fit in L2.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS
from .activations import _sigmoid, _tanh
from .conv import PackedLinear, linear_direct, pack_linear
from .microkernel import LANES, TAP0, tile_kernel

NV = 2
NR = NV * LANES
_T8 = tile_kernel("f32", 8, NV)
_T4 = tile_kernel("f32", 4, NV)
_T2 = tile_kernel("f32", 2, NV)
_T1 = tile_kernel("f32", 1, NV)


def pack_whh(w_hh: np.ndarray) -> np.ndarray:  # (4H, H) float32 -> (ceil(4H/32) * H * 32,) float32
    """``w_hh`` as (4H/32, H, 32) blocks (rows zero-padded): one k step of the tile reads 2 zmm."""
    g4, hid = w_hh.shape
    gp = -(-g4 // NR) * NR
    w = np.zeros((gp, hid), np.float32)
    w[:g4] = w_hh
    return np.ascontiguousarray(w.reshape(gp // NR, NR, hid).transpose(0, 2, 1)).reshape(-1)


def pack_lstm(w_ih: np.ndarray, w_hh: np.ndarray, b: np.ndarray):
    """One direction as :func:`bilstm` takes it: ``(w_ih packed by pack_linear, pack_whh(w_hh), b)``."""
    return (pack_linear(w_ih), pack_whh(w_hh), np.ascontiguousarray(b, dtype=np.float32))


@njit(**NUMBA_FLAGS)
def _lstm_recurrence(xw, whh, reverse, out, col0, h, z, c, ctile):
    # xw (N, T, 4H) float32 (input projection + bias); whh packed by pack_whh;
    # h (MRp, H) float32 scratch (rows >= N stay 0); out (N, T, >= col0 + H) receives h_t at column col0
    n, t_len, g4 = xw.shape
    mrp, hid = h.shape
    blk = hid * NR
    taps = TAP0
    hf = h.reshape(-1)
    h[:, :] = 0.0
    c[:, :] = 0.0
    for s in range(t_len):
        t = t_len - 1 - s if reverse else s
        for ob in range(-(-g4 // NR)):
            if mrp == 8:
                _T8(ctile, hf, 0, hid, taps, hid, whh, ob * blk)
            elif mrp == 4:
                _T4(ctile, hf, 0, hid, taps, hid, whh, ob * blk)
            elif mrp == 2:
                _T2(ctile, hf, 0, hid, taps, hid, whh, ob * blk)
            else:
                _T1(ctile, hf, 0, hid, taps, hid, whh, ob * blk)
            for b in range(n):
                for j in range(min(NR, g4 - ob * NR)):
                    z[b, ob * NR + j] = xw[b, t, ob * NR + j] + ctile[b * NR + j]
        for b in range(n):
            for j in range(hid):
                cj = _sigmoid(z[b, hid + j]) * c[b, j] + _sigmoid(z[b, j]) * _tanh(z[b, 2 * hid + j])
                c[b, j] = cj
                hj = _sigmoid(z[b, 3 * hid + j]) * _tanh(cj)
                h[b, j] = hj
                out[b, t, col0 + j] = hj


def bilstm(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional LSTM; ``fwd``/``bwd`` are ``(w_ih (4H, I) or its PackedLinear, w_hh packed by
    pack_whh, b (4H,))``, packed once at load (:func:`pack_lstm`). Lines run through the recurrence
    up to 8 at a time.
    """
    n, t_len, _ = x.shape
    g4 = fwd[2].shape[0]
    hid = g4 // 4
    out = np.empty((n, t_len, 2 * hid), np.float32)
    x2 = x.reshape(n * t_len, -1)
    for col0, (w_ih, whh, b), reverse in ((0, fwd, False), (hid, bwd, True)):
        if isinstance(w_ih, PackedLinear):
            xw = linear_direct(x2, w_ih, b).reshape(n, t_len, g4)
        else:
            xw = (x2 @ w_ih.T).reshape(n, t_len, g4)
            xw += b
        for b0 in range(0, n, 8):
            nb = min(8, n - b0)
            mrp = 1 if nb == 1 else 2 if nb == 2 else 4 if nb <= 4 else 8
            _lstm_recurrence(xw[b0 : b0 + nb], whh, reverse, out[b0 : b0 + nb], col0, np.empty((mrp, hid), np.float32),
                             np.empty((nb, g4), np.float32), np.empty((nb, hid), np.float32), np.empty(mrp * NR, np.float32))
    return out
