"""The int8 kernels' drivers shared by every tile family: quantisers, weight packing, the dynamic per-line linear
layer and the int8 LSTM (input projection + recurrence), parameterised by the tile they run on.

Two families today, each a module with its own tiles, GEMM epilogue and conv/pointwise layouts:

- :mod:`.int8` (``ZMM``): AVX-512 VNNI, :mod:`.microkernel`'s uint8 x int8 tiles, MR = 8 rows x NR = 32 columns,
  E = 4 bytes per group, inputs offset by +128 (``off``) and corrected with ``128 * sum(w)``.
- :mod:`.int8_avx2` (``YMM``): AVX2 / AVX-VNNI, :mod:`.tiles_avx2`'s tiles, MR = 6 x NR = 16; per pack either
  int16 pairs (E = 2, no offset) or uint8 x int8 quads (E = 4, +128 as above).

A family's modules pass its constants (MR, NR) and its ``linear_q`` (the GEMM with its epilogue); the recurrence
is compiled once per family by :func:`make_lstm_rec`, whose tiles are picked by :func:`_tile` from literal
(family, rows) constants at compile time. What a layer computes does not depend on the family: the integer
products are exact and every epilogue is the twins' float32 arithmetic.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from ..config import NUMBA_FLAGS_EXACT
from ..quant import H_QSCALE, QMAX, dynamic_scale_rows, inv_scale
from . import arm_vec
from .activations import _sigmoid, _tanh
from .cpu_features import IS_AARCH64
from .microkernel import TAP0

ZMM, YMM = 0, 1  # tile families (module docstring)


def _ceil(a, b):
    return -(-a // b) * b


def layout_types(off):
    """(E elements per group, dtype of a signed input entering the tile, the weights' dtype) for input offset ``off``
    (128: uint8 x int8 quads for vpdpbusd; 0: int16 pairs for vpmaddwd)."""
    return (4, np.uint8, np.int8) if off else (2, np.int16, np.int16)


# ---- conv2d (uint8 activations, NHWC zero-bordered input) ------------------------------------------


def pack_conv(w_q, e, dt, nr):  # (O, C, kh, kw) int8 -> flat packed weights
    """Weights as ``(O/NR, kh*kw, Cp/E, NR, E)`` of ``dt`` (C and O zero-padded): one group step of the tile reads
    NR x E values (int8 quads: 4 bytes per column; int16 pairs: 4 bytes too)."""
    o, c, kh, kw = w_q.shape
    cp, op = _ceil(c, e), _ceil(o, nr)
    w = np.zeros((op, kh, kw, cp), dt)
    w[:o, :, :, :c] = w_q.transpose(0, 2, 3, 1)
    w = w.reshape(op // nr, nr, kh * kw, cp // e, e).transpose(0, 2, 3, 1, 4)
    return np.ascontiguousarray(w).reshape(-1)


def conv_setup(shape, kh, kw, stride, pad, mr, e, dt):
    """The conv's zeroed ``(N, H + 2ph, Wp, Cp)`` input (Wp: whole MR-pixel tiles stay in the row), its tap offsets,
    Cp / E groups and ``(Ho, Wo)``."""
    n, c, h, w = shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    cp = _ceil(c, e)
    wp = max(w + 2 * pw, (_ceil(wo, mr) - 1) * sw + kw)
    xp = np.zeros((n, h + 2 * ph, wp, cp), dt)
    taps = np.array([(i * wp + j) * cp for i in range(kh) for j in range(kw)], np.int64)
    return xp, taps, cp // e, (ho, wo)


# ---- quantisers ---------------------------------------------------------------------------------


@njit(**NUMBA_FLAGS_EXACT)
def quant_rows(x, inv, rows_per_line, off, a):
    # x (M, K) float32 -> a (Mp, Kp) uint8 or int16 = clip(rint(x * inv[m // rows_per_line]), -127, 127) + off
    m_len, k_len = x.shape
    for m in range(m_len):
        s = inv[m // rows_per_line]
        row = a[m]
        for k in range(k_len):
            v = min(max(np.rint(x[m, k] * s), np.float32(-QMAX)), np.float32(QMAX))
            row[k] = np.int32(v) + off


@njit(**NUMBA_FLAGS_EXACT)
def quant_pixels_s8(x, inv_pix, a, sx):
    # x (N, C, P) float32 -> a (N, Pp/NR, C4, NR) uint32: 4 int8 channels q[n, 4k+j, p] = clip(rint(x * inv_pix[n, p]),
    # -127, 127) in byte j of a[n, p // NR, k, p % NR]; sx (N, Pp) int32 = sum_c q[n, c, p]. a and sx come zeroed;
    # NR = a.shape[3] (the tile's columns).
    # NOTE: one NR-pixel run of 4 channels per inner loop (contiguous loads, one packed store, no read-modify-write):
    # LLVM vectorises it; the per-pixel loop over channels this replaces ran at ~1 ns per element (168 us of a
    # 256-channel x 640-pixel layer whose int8 products take ~180 us), this at ~0.15 ns.
    n, c, p_len = x.shape
    _, pb_len, _, nr = a.shape
    lo, hi = np.float32(-QMAX), np.float32(QMAX)
    m8 = np.int32(255)
    kf = c // 4
    for b in range(n):
        for pb in range(pb_len):
            p0 = pb * nr
            m = min(nr, p_len - p0)
            inv = inv_pix[b, p0 : p0 + m]
            t = sx[b, p0 : p0 + m]
            for k in range(kf):
                x0 = x[b, 4 * k, p0 : p0 + m]
                x1 = x[b, 4 * k + 1, p0 : p0 + m]
                x2 = x[b, 4 * k + 2, p0 : p0 + m]
                x3 = x[b, 4 * k + 3, p0 : p0 + m]
                ak = a[b, pb, k]
                for j in range(m):
                    s = inv[j]
                    q0 = np.int32(min(max(np.rint(x0[j] * s), lo), hi))
                    q1 = np.int32(min(max(np.rint(x1[j] * s), lo), hi))
                    q2 = np.int32(min(max(np.rint(x2[j] * s), lo), hi))
                    q3 = np.int32(min(max(np.rint(x3[j] * s), lo), hi))
                    t[j] += q0 + q1 + q2 + q3
                    ak[j] = np.uint32((q0 & m8) | ((q1 & m8) << 8) | ((q2 & m8) << 16) | ((q3 & m8) << 24))
            for ci in range(4 * kf, c):  # the last, partial group of 4 channels
                sh = np.int32(8 * (ci - 4 * kf))
                xc = x[b, ci, p0 : p0 + m]
                ak = a[b, pb, kf]
                for j in range(m):
                    q = np.int32(min(max(np.rint(xc[j] * inv[j]), lo), hi))
                    t[j] += q
                    ak[j] |= np.uint32((q & m8) << sh)


def quantize_lines(x, off, mr):  # (N, T, K) float32 -> (a (Mp, Kp) uint8 | int16, s (N,) float32)
    """Dynamic per-line symmetric int8 (``s = max|x[n]| / 127``) entering the tile as ``q + off``, rows padded to
    MR (padding ``off`` = a zero input), K to E."""
    n, t_len, k = x.shape
    s = dynamic_scale_rows(x)
    inv = np.array([inv_scale(v) for v in s], np.float32)
    e, adt, _ = layout_types(off)
    a = np.full((_ceil(n * t_len, mr), _ceil(k, e)), off, adt)
    quant_rows(np.ascontiguousarray(x, dtype=np.float32).reshape(n * t_len, k), inv, t_len, off, a)
    return a, s


# ---- linear / GEMM (dynamic per-line int8 inputs) -----------------------------------------------


def _padded(v, n, dtype):
    """``v`` (or zeros when None) as a fresh contiguous array of ``n >= len(v)`` elements, zero-padded: tiles read
    row and column vectors a whole tile at a time."""
    out = np.zeros(n, dtype)
    if v is not None:
        out[: len(v)] = v
    return out


def pack_linear(w_q, w_scale, off, nr, corr_off=None):  # (O, K) int8, (O,) float32 -> packed tuple
    """``(O/NR, Kp/E, NR, E)`` weights (int8 quads or int16 pairs, :func:`layout_types`) plus ``corr[o] = off *
    sum_k w_q[o, k]`` (inputs enter as ``x_q + off``; subtracting ``corr`` restores the signed product exactly), the
    scales (both padded to Op), O, K and ``off``. ``corr_off`` replaces ``off`` in ``corr`` for a tile that removes
    part of the offset itself (aarch64 sdot: ``128 - U8S8_A_BIAS`` = 0)."""
    corr_off = off if corr_off is None else corr_off
    e, _, wdt = layout_types(off)
    o, k = w_q.shape
    kp, op = _ceil(k, e), _ceil(o, nr)
    w = np.zeros((op, kp), wdt)
    w[:o, :k] = w_q
    wpk = np.ascontiguousarray(w.reshape(op // nr, nr, kp // e, e).transpose(0, 2, 1, 3)).reshape(-1)
    corr = _padded(corr_off * w_q.astype(np.int32).sum(axis=1), op, np.int32)
    return (wpk, corr, _padded(w_scale, op, np.float32), o, k, off)


def linear(x, pack, bias, act, mr, linear_q):  # (N, T, I) -> (N, T, O) float32
    """Dynamic per-line int8 linear layer on a family's ``linear_q(a, s, t_len, pack, bias, act, m_len)``."""
    n, t_len, _ = x.shape
    a, s = quantize_lines(x, pack[5], mr)
    return linear_q(a, s, t_len, pack, bias, act, n * t_len).reshape(n, t_len, -1)


# ---- LSTM ---------------------------------------------------------------------------------------


def pack_lstm(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b, off, nr, corr_off=None):
    """Both matrices packed like :func:`pack_linear`; ``hs = w_hh_scale / 127`` folds the fixed h scale.

    NOTE: on int16 pairs (``off == 0``) the recurrent weights stay int8 and the tile widens them as it loads them
    (``tiles_avx2`` kind s16b8): the recurrence is one row per step, so it is bound by streaming these weights
    (english_g2: 512 KB per direction as int16, more than this Zen 3's L2 beside the rest; 256 KB as int8)."""
    hs = (np.asarray(w_hh_scale, np.float32) * H_QSCALE).astype(np.float32)
    hh = pack_linear(w_hh_q, hs, off, nr, corr_off)
    whh = hh[0].astype(np.int8) if off == 0 else hh[0]
    return (pack_linear(w_ih_q, w_ih_scale, off, nr, corr_off), whh, hh[1], hs, np.ascontiguousarray(b, dtype=np.float32),
            off)


def _tile(family, mr, c, a, a_off, lda, taps, k_len, b, b_off):  # typed by the overload below
    raise NotImplementedError("only callable from @njit code")


@overload(_tile, prefer_literal=True, jit_options=NUMBA_FLAGS_EXACT, inline="always")
def _tile_ov(family, mr, c, a, a_off, lda, taps, k_len, b, b_off):
    # the (family, MR) tile; both must be compile-time constants (closure variables or literals)
    if not (isinstance(family, types.IntegerLiteral) and isinstance(mr, types.IntegerLiteral)):
        return None
    if family.literal_value == ZMM:
        from .microkernel import tile_kernel

        tile = tile_kernel("u8s8", mr.literal_value, 2)
    else:
        from .tiles_avx2 import tile_kernel

        tile = tile_kernel(mr.literal_value)

    def impl(family, mr, c, a, a_off, lda, taps, k_len, b, b_off):
        tile(c, a, a_off, lda, taps, k_len, b, b_off)

    return impl


#: A global, not a closure variable: an intrinsic in the closure would change the cache key in every process.
_ZROW32 = arm_vec.make_lstm_z(32)


def make_lstm_rec(family, mr, nr):
    """The int8 LSTM recurrence on the ``family`` tiles of MR in {1, 2, 4, ``mr``} rows and ``nr`` columns.

    NOTE: a closure over plain ints, so Numba types them as literals (the tile is chosen at compile time) and caches
    one entry per family (the cache key hashes the closure's values). On aarch64 whole 32-column blocks of ``z`` go
    through :data:`_ZROW32` (4-column vectors, the same float32 operations; dead code on x86)."""

    @njit(**NUMBA_FLAGS_EXACT)
    def lstm_rec(xw, whh, corr, hs, off, reverse, out, hq, z, c, ctile):
        # per step: acc (N, 4H) int32 = (hq - off) @ w_hh.T ; z = xw_t + acc * hs ; gates i, f, g, o
        # hq (MRp, Kp) = rint(h * 127) + off; MRp in {1, 2, 4, mr} lines share each weight load
        n, t_len, g4 = xw.shape
        hid = g4 // 4
        mrp, kp = hq.shape
        hf = hq.reshape(-1)
        kg = kp // (2 if hq.itemsize == 2 else 4)
        blk = kp * nr
        taps = TAP0
        hq[:, :] = off
        c[:, :] = 0.0
        for s in range(t_len):
            t = t_len - 1 - s if reverse else s
            for ob in range(-(-g4 // nr)):
                if mrp == mr:
                    _tile(family, mr, ctile, hf, 0, kp, taps, kg, whh, ob * blk)
                elif mrp == 4:
                    _tile(family, 4, ctile, hf, 0, kp, taps, kg, whh, ob * blk)
                elif mrp == 2:
                    _tile(family, 2, ctile, hf, 0, kp, taps, kg, whh, ob * blk)
                else:
                    _tile(family, 1, ctile, hf, 0, kp, taps, kg, whh, ob * blk)
                if IS_AARCH64 and nr == 32 and g4 - ob * nr >= nr:
                    for b in range(n):
                        _ZROW32(ctile, b * nr, z[b], xw[b, t], corr, hs, ob * nr)
                    continue
                for b in range(n):
                    for j in range(min(nr, g4 - ob * nr)):
                        g = ob * nr + j
                        z[b, g] = xw[b, t, g] + np.float32(ctile[b * nr + j] - corr[g]) * hs[g]
            for b in range(n):
                for j in range(hid):
                    cj = _sigmoid(z[b, hid + j]) * c[b, j] + _sigmoid(z[b, j]) * _tanh(z[b, 2 * hid + j])
                    c[b, j] = cj
                    hj = _sigmoid(z[b, 3 * hid + j]) * _tanh(cj)
                    out[b, t, j] = hj
                    v = min(max(np.rint(hj * np.float32(QMAX)), np.float32(-QMAX)), np.float32(QMAX))
                    hq[b, j] = np.int32(v) + off

    return lstm_rec


def bilstm(x, fwd, bwd, mr, nr, linear_q, lstm_rec):  # (N, T, I) float32 -> (N, T, 2H) float32
    """Bidirectional int8 LSTM (``fwd``/``bwd`` from :func:`pack_lstm`). Lines go through the recurrence up to MR at
    a time (the tile's rows), so a batch shares every recurrent weight load."""
    n, t_len, _ = x.shape
    hid = fwd[3].shape[0] // 4
    off = fwd[5]
    e, dt, _ = layout_types(off)
    out = np.empty((n, t_len, 2 * hid), np.float32)
    a, s = quantize_lines(x, off, mr)
    for col0, (ih, whh, corr, hs, b, _), reverse in ((0, fwd, False), (hid, bwd, True)):
        xw = linear_q(a, s, t_len, ih, b, "none", n * t_len).reshape(n, t_len, 4 * hid)
        for b0 in range(0, n, mr):
            nb = min(mr, n - b0)
            mrp = 1 if nb == 1 else 2 if nb == 2 else 4 if nb <= 4 else mr
            ob = np.empty((nb, t_len, hid), np.float32)
            lstm_rec(xw[b0 : b0 + nb], whh, corr, hs, off, reverse, ob, np.empty((mrp, _ceil(hid, e)), dt),
                     np.empty((nb, 4 * hid), np.float32), np.empty((nb, hid), np.float32), np.empty(mrp * nr, np.int32))
            out[b0 : b0 + nb, :, col0 : col0 + hid] = ob
    return out
