"""Exact int8 Winograd convs for AVX2 without VNNI: F(2x2, 3x3) for 3x3 pad 1, F(3x3, 2x2) for 2x2 pad 0.

Why: on AVX2 the int8 conv multiplies 16-bit pairs (``vpmaddwd``, 16 multiply-adds per instruction,
:mod:`.tiles_avx2`), which loses to the FP32 model's F(4x4, 3x3) Winograd convs (4x fewer multiplies
on 8-lane FMAs). Both variants here take 16 products per channel pair for a tile of 4 (3x3) or 9 (2x2)
outputs instead of 36, 2.25x fewer, and with integer transforms they compute the same int32
accumulators as the direct conv: outputs are bit-identical to the direct kernel and to the twin
``ref.conv2d_int8_ref``.

# 4 * acc[n, o, m*ty + a, m*tx + b] = (A^T [sum_c U[o, c] * V[n, c, ty, tx]] A)[a, b]
# U = G' w G'^T with G' = 2 G (integers: |U| <= 9 * 128), V = B^T d B (d: the 4x4 uint8 window at rows
# m*ty - p .., columns m*tx - p .., zero outside the image: |V| <= 4 * 255); m = 2, p = 1 (3x3), m = 3, p = 0 (2x2)

U and V fit in int16, so the 16 per-point GEMMs run on the int16-pair tile unchanged, and a point's
int32 sum stays exact while C * 1152 * 1020 < 2^31 (C <= 1827; :func:`applies` checks it). The output
transform adds up to nine such sums in int32, which may wrap, but its result (4x the conv's
accumulator, |acc| <= 9 * C * 255 * 128) fits, so it is exact; the division by 4 is an arithmetic shift.
Data flow per group of tile rows (NHWC, channels innermost): input transform -> V (16, tiles, Cp) int16;
for each 16-channel output block, 16 GEMMs V[xi] @ U[xi] -> M (16, tiles, 16) int32, then the output
transform and the direct conv's own epilogue (:func:`.tiles_avx2_fused.epilogue`: dequantisation, bias,
activation) per output pixel. Both transforms run as passes over whole arrays (image rows, then columns;
M's points, then their rows) with +-1 coefficients as XOR masks: one small vector loop each, which also
keeps the cold compile short (per-tile code with the 16 points written out took ~10 s more).
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from .microkernel import TAP0
from .tiles_avx2 import NR, tile_kernel
from .tiles_avx2_fused import epilogue

MR = 6  # the int16 tile's rows: 6 tiles per GEMM call (int8_avx2.MR)
P = 16  # transformed points per tile: 4 x 4 in both variants
C_MAX = 1827  # input channels up to which a point's int32 sum cannot overflow (module docstring)
#: kernel size -> (output tile m, padding, 2 G)
VARIANTS = {3: (2, 1, np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)),
            2: (3, 0, np.array([[2, 0], [1, 1], [1, -1], [0, 2]], np.int64))}
#: V + M bytes per group of tiles: the group's transformed input stays in L2 while every output block reads it
_GROUP_BYTES = 256 << 10
_TC = tile_kernel(MR)


def packable(shape) -> bool:
    """Whether a weight of shape (O, C, kh, kw) has a variant here (a call must also match its stride and padding)."""
    _, c, kh, kw = shape
    return kh == kw and kh in VARIANTS and c <= C_MAX


def applies(shape, stride, pad) -> bool:
    """Whether an int8 conv of weight shape (O, C, kh, kw) called with ``stride`` and ``pad`` runs here."""
    return packable(shape) and tuple(stride) == (1, 1) and tuple(pad) == (VARIANTS[shape[2]][1],) * 2


def pack(w_q: np.ndarray) -> np.ndarray:
    """(O, C, k, k) int8 -> U = G' w G'^T as int16 ``(16, Op/NR, Cp/2, NR, 2)``, flat (O, C zero-padded)."""
    o, c, k, _ = w_q.shape
    g2 = VARIANTS[k][2]
    op, cp = -(-o // NR) * NR, c + (c & 1)
    u = np.einsum("ij,ocjk,lk->iloc", g2, w_q.astype(np.int64), g2).reshape(P, o, c)
    assert np.abs(u).max(initial=0) <= 9 * 128
    up = np.zeros((P, op, cp), np.int16)
    up[:, :o, :c] = u
    return np.ascontiguousarray(up.reshape(P, op // NR, NR, cp // 2, 2).transpose(0, 1, 3, 2, 4)).reshape(-1)


def padded_input(shape, k: int):
    """The zeroed int16 ``(N, m*th + k - 1, m*tw + k - 1, Cp)`` buffer a (N, C, H, W) input is quantised into at
    offset (p, p) for the k x k variant: every tile's 4x4 window lies inside it. Returns (buffer, th, tw)."""
    n, c, h, w = shape
    m, p, _ = VARIANTS[k]
    th, tw = -(-(h + 2 * p - k + 1) // m), -(-(w + 2 * p - k + 1) // m)
    return np.zeros((n, m * th + k - 1, m * tw + k - 1, c + (c & 1)), np.int16), th, tw


#: Rows of the transform matrices as (i1, i2, sign mask of i2, i3, sign mask of i3); i3 = -1: no third term.
#: A^T for F(2x2, 3x3): [1, 1, 1, 0], [0, 1, -1, -1]; for F(3x3, 2x2): [1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1].
#: A mask of -1 negates the term ((x ^ -1) + 1), 0 keeps it: no multiplies in the loops.
AT_ROWS = {3: np.array([[0, 1, 0, 2, 0], [1, 2, -1, 3, -1]], np.int64),
           2: np.array([[0, 1, 0, 2, 0], [1, 2, -1, -1, 0], [1, 2, 0, 3, 0]], np.int64)}


def group_rows(n_rows: int, tw: int, cp: int) -> int:
    """Tile rows per group: V (16 x Cp int16) + M (16 x NR int32) per tile within _GROUP_BYTES."""
    per_tile = P * (2 * cp + 4 * NR)
    return max(1, min(n_rows, _GROUP_BYTES // (per_tile * tw)))


@njit(**NUMBA_FLAGS_EXACT)
def _comb(dst, a, b, mb, c, mc):
    # dst = a +- b +- c over 1-D arrays (masks 0: +, -1: -); int16 in the input transform, int32 in the output one
    for k in range(dst.shape[0]):
        dst[k] = a[k] + ((b[k] ^ mb) - mb) + ((c[k] ^ mc) - mc)


@njit(**NUMBA_FLAGS_EXACT)
def _comb_div4(dst, a, b, mb, c, mc):
    # the last output transform step: (a +- b +- c) / 4, exact (arithmetic shift of a multiple of 4); int32 wraps in
    # the sums, harmlessly (module docstring)
    for k in range(dst.shape[0]):
        dst[k] = np.int32(np.int32(a[k]) + ((b[k] ^ mb) - mb) + ((c[k] ^ mc) - mc)) >> 2


@njit(**NUMBA_FLAGS_EXACT)
def _columns(dst, src, ca, cb, mb, step):
    # dst[tx, :] = src[step*tx + ca, :] +- src[step*tx + cb, :]: one column step of B^T d B for a row of tiles
    for tx in range(dst.shape[0]):
        s0 = src[step * tx + ca]
        s1 = src[step * tx + cb]
        d = dst[tx]
        for ci in range(d.shape[0]):
            d[ci] = s0[ci] + ((s1[ci] ^ mb) - mb)


#: Rows of B^T as (first, second, sign mask of the second): d0 - d2, d1 + d2, d2 - d1, d1 - d3 (F(2x2, 3x3)) or
#: d3 - d1 (F(3x3, 2x2)); the same pairs combine columns.
BT_PAIRS = {3: np.array([[0, 2, -1], [1, 2, 0], [2, 1, -1], [1, 3, -1]], np.int64),
            2: np.array([[0, 2, -1], [1, 2, 0], [2, 1, -1], [3, 1, -1]], np.int64)}


@njit(**NUMBA_FLAGS_EXACT)
def _input_transform(xp, step, bt, row0, n_rows, th, tw, v, e, zero):
    # V of the tiles in tile rows row0 .. row0 + n_rows (row = line * th + ty): v[i*4 + l, q*tw + tx, :] =
    # (B^T d B)[i, l]: first down a whole band of image rows (e[i] = row i of B^T d, every column), then across.
    # NOTE: one call site per helper (loops over the tables): LLVM inlines and re-vectorises every call site, and
    # eight of them took seconds of cold compile
    _, _, wp, cp = xp.shape
    z = np.int16(0)
    for q in range(n_rows):
        b, ty = (row0 + q) // th, (row0 + q) % th
        for i in range(4):
            da = xp[b, step * ty + bt[i, 0]].reshape(-1)
            db = xp[b, step * ty + bt[i, 1]].reshape(-1)
            _comb(e[i], da, db, np.int16(bt[i, 2]), zero, z)
        for k in range(P):
            i, l = k // 4, k % 4
            _columns(v[k, q * tw : q * tw + tw], e[i].reshape(wp, cp), bt[l, 0], bt[l, 1], np.int16(bt[l, 2]), step)


@njit(**NUMBA_FLAGS_EXACT)
def _output_transform(m, at, step, row0, n_rows, th, tw, o0, nj, s_line, w_scale, bias, code, raw, out, out_acc,
                      srows, y, zero, sc, bo, zc):
    # the outputs of the tiles in rows row0 .. row0 + n_rows, channels o0 .. o0 + nj: Y = A^T M A / 4 as whole-array
    # passes (m (16, tg, NR) -> srows (R, 4, L) -> y (R*R, L), L = tiles * NR), then raw acc or the epilogue per pixel
    if raw:
        _, ho, wo, o_len = out_acc.shape
    else:
        _, ho, wo, o_len = out.shape
    nr_ = at.shape[0]
    t_len = n_rows * tw
    ln = t_len * NR
    mf = m.reshape(m.shape[0], -1)
    for a in range(nr_):  # rows of A^T M, per column l
        i1, i2, m2, i3, m3 = at[a, 0], at[a, 1], np.int32(at[a, 2]), at[a, 3], np.int32(at[a, 4])
        for l in range(4):
            c3 = mf[4 * i3 + l, :ln] if i3 >= 0 else zero[:ln]
            _comb(srows[a, l, :ln], mf[4 * i1 + l, :ln], mf[4 * i2 + l, :ln], m2, c3, m3)
    for a in range(nr_):  # times A, per row a
        for bb in range(nr_):
            i1, i2, m2, i3, m3 = at[bb, 0], at[bb, 1], np.int32(at[bb, 2]), at[bb, 3], np.int32(at[bb, 4])
            c3 = srows[a, i3, :ln] if i3 >= 0 else zero[:ln]
            _comb_div4(y[a * nr_ + bb, :ln], srows[a, i1, :ln], srows[a, i2, :ln], m2, c3, m3)
    of = out.reshape(-1)
    af = out_acc.reshape(-1)
    for q in range(n_rows):  # tile rows, then tiles: two integer divisions per row, none per tile
        b, ty = (row0 + q) // th, (row0 + q) % th
        if not raw and (q == 0 or ty == 0):
            for j in range(nj):
                sc[j] = s_line[b] * w_scale[o0 + j]
                bo[j] = bias[o0 + j]
        oy = step * ty
        for tx in range(tw):
            r = q * tw + tx
            ox = step * tx
            u = 0
            for py in range(oy, oy + step):
                for px in range(ox, ox + step):
                    if py < ho and px < wo:
                        d0 = ((b * ho + py) * wo + px) * o_len + o0  # flat NHWC offsets: no array views in this loop
                        if raw:
                            for j in range(nj):
                                af[d0 + j] = y[u, r * NR + j]
                        else:
                            epilogue(of, d0, y[u], r * NR, zc, np.float32(1.0), sc, 0, bo, nj, code)
                    u += 1


@njit(**NUMBA_FLAGS_EXACT)
def _conv(xp, step, bt, at, th, tw, rows_g, wpk, o_len, s_line, w_scale, bias, code, raw, out, out_acc, v, m, e,
          zero16, srows, y, zero32, sc, bo, zc):
    n, _, _, cp = xp.shape
    kg = cp // 2
    tg = v.shape[1]
    nob = -(-o_len // NR)
    vf = v.reshape(-1)
    mf = m.reshape(-1)
    blk = MR * NR
    for row0 in range(0, n * th, rows_g):
        n_rows = min(rows_g, n * th - row0)
        t_len = n_rows * tw
        _input_transform(xp, step, bt, row0, n_rows, th, tw, v, e, zero16)
        for ob in range(nob):
            for xi in range(P):
                wo = (xi * nob + ob) * kg * NR * 2
                for tb in range(0, t_len, MR):
                    c0 = (xi * tg + tb) * NR
                    _TC(mf[c0 : c0 + blk], vf, (xi * tg + tb) * cp, cp, TAP0, kg, wpk, wo)
            _output_transform(m, at, step, row0, n_rows, th, tw, ob * NR, min(NR, o_len - ob * NR), s_line, w_scale,
                              bias, code, raw, out, out_acc, srows, y, zero32, sc, bo, zc)


def conv(xp, k, th, tw, wpk, o_len, s_line, w_scale, bias, code, raw, out, out_acc):
    """Run the k x k conv on ``xp`` from :func:`padded_input` (quantised): NHWC ``out`` (N, Ho, Wo, O) float32 =
    act(acc * (s_line[n] * w_scale[o]) + bias[o]), or the raw int32 acc into ``out_acc`` when ``raw``."""
    n, _, wp, cp = xp.shape
    step = VARIANTS[k][0]
    rows_g = group_rows(n * th, tw, cp)
    tg = -(-rows_g * tw // MR) * MR
    at = AT_ROWS[k]
    r = at.shape[0]
    # rows past the last tile in V feed only M rows that are never read: no zeroing
    _conv(xp, step, BT_PAIRS[k], at, th, tw, rows_g, wpk, o_len, s_line, w_scale, bias, code, raw, out,
          out_acc, np.empty((P, tg, cp), np.int16), np.empty((P, tg, NR), np.int32), np.empty((4, wp * cp), np.int16),
          np.zeros(wp * cp, np.int16), np.empty((r, 4, tg * NR), np.int32), np.empty((r * r, tg * NR), np.int32),
          np.zeros(tg * NR, np.int32), np.zeros(NR, np.float32), np.zeros(NR, np.float32), np.zeros(NR, np.int32))
