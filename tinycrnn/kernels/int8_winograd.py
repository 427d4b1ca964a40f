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
Data flow per group of tiles (NHWC, channels innermost): input transform -> V (16, tiles, Cp) int16;
for each 16-channel output block, 16 GEMMs V[xi] @ U[xi] -> M (16, tiles, 16) int32, then the output
transform and the direct conv's own epilogue (:func:`.tiles_avx2.epilogue`: dequantisation, bias,
activation) per output pixel.
"""
import functools

import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS_EXACT
from .microkernel import TAP0
from .tiles_avx2 import NR, epilogue, tile_kernel

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


@functools.lru_cache(maxsize=256)
def _tiles(n: int, th: int, tw: int, step: int) -> np.ndarray:
    """Every tile's (line, first row, first column), read by the kernels instead of dividing a tile index; cached
    (building it costs ~35 us, as much as a small layer's input transform)."""
    t = np.stack(np.meshgrid(np.arange(n), step * np.arange(th), step * np.arange(tw), indexing="ij"), -1).reshape(-1, 3)
    t.flags.writeable = False
    return t


def group_tiles(n_tiles: int, cp: int) -> int:
    """Tiles per group (a multiple of MR): V (16 x Cp int16) + M (16 x NR int32) per tile in _GROUP_BYTES."""
    g = max(MR, _GROUP_BYTES // (P * (2 * cp + 4 * NR)))
    return -(-min(g, n_tiles) // MR) * MR


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def _row_transform(pa, pb, x0, add, flip, v0, v1, v2, v3):
    # one row of B^T d, e = pa + pb or pa - pb (4 columns from x0), times B: v = (e0 - e2, e1 + e2, e2 - e1,
    # flip * (e1 - e3)); two loop bodies so that no multiply by a runtime sign is left in them
    a0, a1, a2, a3 = pa[x0], pa[x0 + 1], pa[x0 + 2], pa[x0 + 3]
    b0, b1, b2, b3 = pb[x0], pb[x0 + 1], pb[x0 + 2], pb[x0 + 3]
    sb = 1 if add else -1
    for ci in range(v0.shape[0]):
        e0 = np.int16(a0[ci] + sb * b0[ci])
        e1 = np.int16(a1[ci] + sb * b1[ci])
        e2 = np.int16(a2[ci] + sb * b2[ci])
        e3 = np.int16(a3[ci] + sb * b3[ci])
        v0[ci] = e0 - e2
        v1[ci] = e1 + e2
        v2[ci] = e2 - e1
        v3[ci] = e1 - e3 if flip == 1 else e3 - e1


@njit(**NUMBA_FLAGS_EXACT)
def _input_transform(xp, flip, tiles, t0, t_len, v):
    # v[i*4 + l, r, :] = (B^T d B)[i, l] of tile t0 + r, all channels; B^T rows: d0 - d2, d1 + d2, d2 - d1 and
    # flip * (d1 - d3) (flip = 1: F(2x2, 3x3); -1: F(3x3, 2x2))
    for r in range(t_len):
        b, y0, x0 = tiles[t0 + r, 0], tiles[t0 + r, 1], tiles[t0 + r, 2]
        d0, d1, d2, d3 = xp[b, y0], xp[b, y0 + 1], xp[b, y0 + 2], xp[b, y0 + 3]
        if flip == 1:
            _row_transform(d0, d2, x0, False, 1, v[0, r], v[1, r], v[2, r], v[3, r])
            _row_transform(d1, d2, x0, True, 1, v[4, r], v[5, r], v[6, r], v[7, r])
            _row_transform(d2, d1, x0, False, 1, v[8, r], v[9, r], v[10, r], v[11, r])
            _row_transform(d1, d3, x0, False, 1, v[12, r], v[13, r], v[14, r], v[15, r])
        else:
            _row_transform(d0, d2, x0, False, -1, v[0, r], v[1, r], v[2, r], v[3, r])
            _row_transform(d1, d2, x0, True, -1, v[4, r], v[5, r], v[6, r], v[7, r])
            _row_transform(d2, d1, x0, False, -1, v[8, r], v[9, r], v[10, r], v[11, r])
            _row_transform(d3, d1, x0, False, -1, v[12, r], v[13, r], v[14, r], v[15, r])


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def _transform_out3(m, r, y):
    # F(2x2, 3x3): y[2a + b] = (A^T M A)[a, b] / 4, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]. int32 arithmetic may
    # wrap in the sums, exactly: the result fits (module docstring)
    for j in range(NR):
        s0 = np.int32(np.int32(m[0, r, j]) + np.int32(m[4, r, j]) + np.int32(m[8, r, j]))  # row 0 of A^T M
        s1 = np.int32(np.int32(m[1, r, j]) + np.int32(m[5, r, j]) + np.int32(m[9, r, j]))
        s2 = np.int32(np.int32(m[2, r, j]) + np.int32(m[6, r, j]) + np.int32(m[10, r, j]))
        s3 = np.int32(np.int32(m[3, r, j]) + np.int32(m[7, r, j]) + np.int32(m[11, r, j]))
        d0 = np.int32(np.int32(m[4, r, j]) - np.int32(m[8, r, j]) - np.int32(m[12, r, j]))  # row 1
        d1 = np.int32(np.int32(m[5, r, j]) - np.int32(m[9, r, j]) - np.int32(m[13, r, j]))
        d2 = np.int32(np.int32(m[6, r, j]) - np.int32(m[10, r, j]) - np.int32(m[14, r, j]))
        d3 = np.int32(np.int32(m[7, r, j]) - np.int32(m[11, r, j]) - np.int32(m[15, r, j]))
        y[0, j] = np.int32(s0 + s1 + s2) >> 2
        y[1, j] = np.int32(s1 - s2 - s3) >> 2
        y[2, j] = np.int32(d0 + d1 + d2) >> 2
        y[3, j] = np.int32(d1 - d2 - d3) >> 2


@njit(inline="always", **NUMBA_FLAGS_EXACT)
def _transform_out2(m, r, y):
    # F(3x3, 2x2): y[3a + b] = (A^T M A)[a, b] / 4, A^T = [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]]
    for j in range(NR):
        m0, m1, m2, m3 = np.int32(m[0, r, j]), np.int32(m[1, r, j]), np.int32(m[2, r, j]), np.int32(m[3, r, j])
        m4, m5, m6, m7 = np.int32(m[4, r, j]), np.int32(m[5, r, j]), np.int32(m[6, r, j]), np.int32(m[7, r, j])
        m8, m9, m10, m11 = np.int32(m[8, r, j]), np.int32(m[9, r, j]), np.int32(m[10, r, j]), np.int32(m[11, r, j])
        m12, m13, m14, m15 = np.int32(m[12, r, j]), np.int32(m[13, r, j]), np.int32(m[14, r, j]), np.int32(m[15, r, j])
        q0, q1, q2, q3 = np.int32(m0 + m4 + m8), np.int32(m1 + m5 + m9), np.int32(m2 + m6 + m10), np.int32(m3 + m7 + m11)
        y[0, j] = np.int32(q0 + q1 + q2) >> 2  # row 0 of A^T M, times A
        y[1, j] = np.int32(q1 - q2) >> 2
        y[2, j] = np.int32(q1 + q2 + q3) >> 2
        q0, q1, q2, q3 = np.int32(m4 - m8), np.int32(m5 - m9), np.int32(m6 - m10), np.int32(m7 - m11)
        y[3, j] = np.int32(q0 + q1 + q2) >> 2  # row 1
        y[4, j] = np.int32(q1 - q2) >> 2
        y[5, j] = np.int32(q1 + q2 + q3) >> 2
        q0, q1, q2, q3 = np.int32(m4 + m8 + m12), np.int32(m5 + m9 + m13), np.int32(m6 + m10 + m14), np.int32(m7 + m11 + m15)
        y[6, j] = np.int32(q0 + q1 + q2) >> 2  # row 2
        y[7, j] = np.int32(q1 - q2) >> 2
        y[8, j] = np.int32(q1 + q2 + q3) >> 2


@njit(**NUMBA_FLAGS_EXACT)
def _output_transform(m, step, tiles, t0, t_len, o0, nj, s_line, w_scale, bias, code, raw, out, out_acc, y, sc, bo, zc):
    # the step x step outputs of tiles t0 .. t0 + t_len, channels o0 .. o0 + nj; m = M (16, tg, NR): raw acc or epilogue
    if raw:
        _, ho, wo, o_len = out_acc.shape
    else:
        _, ho, wo, o_len = out.shape
    of = out.reshape(-1)
    af = out_acc.reshape(-1)
    yf = y.reshape(-1)
    last_b = -1
    for r in range(t_len):
        b, oy, ox = tiles[t0 + r, 0], tiles[t0 + r, 1], tiles[t0 + r, 2]
        if b != last_b and not raw:
            for j in range(nj):
                sc[j] = s_line[b] * w_scale[o0 + j]
                bo[j] = bias[o0 + j]
            last_b = b
        if step == 2:
            _transform_out3(m, r, y)
        else:
            _transform_out2(m, r, y)
        u = 0
        for py in range(oy, oy + step):
            for px in range(ox, ox + step):
                if py < ho and px < wo:
                    d0 = ((b * ho + py) * wo + px) * o_len + o0  # flat NHWC offsets: no array views in this loop
                    if raw:
                        for j in range(nj):
                            af[d0 + j] = yf[u * NR + j]
                    else:
                        epilogue(of, d0, yf, u * NR, zc, np.float32(1.0), sc, 0, bo, nj, code)
                u += 1


@njit(**NUMBA_FLAGS_EXACT)
def _conv(xp, k, tiles, wpk, o_len, s_line, w_scale, bias, code, raw, out, out_acc, v, m, y, sc, bo, zc):
    cp = xp.shape[3]
    step, flip = (2, 1) if k == 3 else (3, -1)
    kg = cp // 2
    tg = v.shape[1]
    nob = -(-o_len // NR)
    n_tiles = tiles.shape[0]
    vf = v.reshape(-1)
    mf = m.reshape(-1)
    blk = MR * NR
    for t0 in range(0, n_tiles, tg):
        t_len = min(tg, n_tiles - t0)
        _input_transform(xp, flip, tiles, t0, t_len, v)
        for ob in range(nob):
            for xi in range(P):
                wo = (xi * nob + ob) * kg * NR * 2
                for tb in range(0, t_len, MR):
                    c0 = (xi * tg + tb) * NR
                    _TC(mf[c0 : c0 + blk], vf, (xi * tg + tb) * cp, cp, TAP0, kg, wpk, wo)
            _output_transform(m, step, tiles, t0, t_len, ob * NR, min(NR, o_len - ob * NR), s_line, w_scale, bias,
                              code, raw, out, out_acc, y, sc, bo, zc)


def conv(xp, k, th, tw, wpk, o_len, s_line, w_scale, bias, code, raw, out, out_acc):
    """Run the k x k conv on ``xp`` from :func:`padded_input` (quantised): NHWC ``out`` (N, Ho, Wo, O) float32 =
    act(acc * (s_line[n] * w_scale[o]) + bias[o]), or the raw int32 acc into ``out_acc`` when ``raw``."""
    n, _, _, cp = xp.shape
    tiles = _tiles(n, th, tw, VARIANTS[k][0])
    tg = group_tiles(len(tiles), cp)
    v = np.empty((P, tg, cp), np.int16)  # rows past the last tile feed only M rows that are never read
    m = np.empty((P, tg, NR), np.int32)
    _conv(xp, k, tiles, wpk, o_len, s_line, w_scale, bias, code, raw, out, out_acc, v, m,
          np.zeros((9, NR), np.int32), np.zeros(NR, np.float32), np.zeros(NR, np.float32), np.zeros(NR, np.int32))
