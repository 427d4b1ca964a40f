"""Winograd convolution (Lavin & Gray 2016) for stride-1 convs: F(4x4, 3x3) for 3x3 pad 1 (36 GEMMs
over the transformed domain instead of 9 taps per output: 4x fewer multiplies) and F(3x3, 2x2)
for 2x2 pad 0 (16 GEMMs instead of 4 taps per output: 2.25x fewer; english_g2's cnn.18, whose 3
output rows are exactly one tile row).

# out[n, :, m*ty : m*ty+m, m*tx : m*tx+m] = act(A^T [sum_c (G w[o, c] G^T) * (B^T d[n, c, ty, tx] B)] A + b)
# d = the (m+r-1)^2 input window at rows m*ty-p .., columns m*tx-p .. (zero outside the image)

Data flow per group of tiles (NHWC throughout, channels innermost so every transform is a
vector loop over channels): input transform -> V (P, tiles, C); for each of the P = (m+r-1)^2 points
one GEMM V[xi] (tiles, C) @ U[xi] (C, O) on the FMA register tile -> M (P, tiles, O); output
transform + bias + activation -> NHWC output. U = G w G^T is computed once at load in float64.

NOTE: fp32 error. F(4x4, 3x3)'s matrices hold 4, 5, 8 and 1/24, so its result is less exact than
the direct conv: up to ~1e-5 of the output's scale on random data (direct: ~1e-6; F(3x3, 2x2),
entries 0, +-1, 1/2: ~1e-6). english_g2's logits on the 20 reference cases stay within 7.6e-4 of
PyTorch (direct convs: 2.8e-4; tolerance 2e-3) with identical texts. tests/tolerances.py:
WINOGRAD_REL is the bound the kernel tests hold it to.
NOTE: tiles are processed in groups so V and M stay in L2 when the image is large (many tiles)
and the weights are small, while a layer with large weights (36*C*O floats, 9.4 MB for 256 -> 256)
runs all tiles in one group so U is streamed from memory once per call.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS
from .activations import ACT_CODES, bias_act_rows
from .microkernel import F32_MR, LANES, TAP0, prefetch, tile_kernel

MR, NV = F32_MR, 2  # 8 x 32 (AVX-512, ARM, portable), 6 x 32 (AVX2: microkernel.YMM_F32)
NR = NV * LANES
_2, _4, _5, _8 = np.float32(2.0), np.float32(4.0), np.float32(5.0), np.float32(8.0)  # float32 literals: no f64 promotion
_TF8 = tile_kernel("f32", MR, NV)
ACT_NAMES = {v: k for k, v in ACT_CODES.items()}

BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)
# F(3x3, 2x2), points 0, 1, -1, inf. The transforms below write these matrices out by hand.
BT32 = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]], np.float64)
G32 = np.array([[1, 0], [0.5, 0.5], [0.5, -0.5], [0, 1]], np.float64)
AT32 = np.array([[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]], np.float64)
#: kernel size -> (output tile m, padding the transforms are written for, G)
VARIANTS = {(3, 3): (4, 1, G), (2, 2): (3, 0, G32)}

#: V + M bytes per tile group when the weights are small enough to re-read per group (L2 is 2 MB here)
_GROUP_BYTES = 1 << 20
#: weights larger than this run every tile in one group (streamed once per call)
_BIG_WEIGHTS = 1 << 20


class PackedWinograd:
    """A 3x3 (F(4x4, 3x3)) or 2x2 (F(3x3, 2x2)) weight (O, C, r, r) as U = G w G^T, packed
    ``(P, O/32, C, 32)`` float32 for the FMA tile (P = (m+r-1)^2 points); computed in float64."""

    def __init__(self, weight: np.ndarray):
        o, c, kh, kw = weight.shape
        self.m, self.pad, g = VARIANTS[(kh, kw)]
        alpha = g.shape[0]
        op = -(-o // NR) * NR
        u = np.zeros((alpha * alpha, op, c), np.float64)
        # U[i*alpha + l] = sum_jk G[i, j] w[:, :, j, k] G[l, k]: one (P, r*r) @ (r*r, O*C) product
        u[:, :o] = (np.kron(g, g) @ weight.reshape(o * c, kh * kw).T.astype(np.float64)).reshape(alpha * alpha, o, c)
        self.packed = np.ascontiguousarray(u.reshape(alpha * alpha, op // NR, NR, c).transpose(0, 1, 3, 2), np.float32).reshape(-1)
        self.points = alpha * alpha
        self.shape = weight.shape
        self.weight = weight


def winograd_applies(shape, stride, pad) -> bool:
    """Whether a (O, C, kh, kw) conv called with ``stride`` and ``pad`` has a Winograd variant here."""
    v = VARIANTS.get(tuple(shape[2:]))
    return v is not None and tuple(stride) == (1, 1) and tuple(pad) == (v[1], v[1])


#: The per-call choice between Winograd and the direct conv (:func:`winograd_pays`) models a conv's
#: time as FMAs / FMA_RATE + weight bytes / WEIGHT_BW: both run on the same tile (~150 GFLOP/s), and
#: the weights come from L3 / memory on every call (a forward pass touches ~20 MB of them). Fitted on
#: english_g2's convs under load on this machine (10 GB/s): F(3x3, 2x2) on cnn.18 is 0.70 ms vs 0.53
#: direct at W=128 (11 tiles) but 0.83 vs 1.08 at W=256 (21 tiles); F(4x4, 3x3) wins from 8 tiles.
FMA_RATE = 75e9
WEIGHT_BW = 10e9


def winograd_pays(pk: PackedWinograd, n_out: int, n_tiles: int) -> bool:
    """Whether Winograd beats the direct conv for ``n_out`` output pixels in ``n_tiles`` tiles (cost model above)."""
    _, _, kh, kw = pk.shape
    tp = -(-n_tiles // MR) * MR  # the GEMM rows include the padding to the tile height
    direct = n_out * kh * kw / FMA_RATE + 4 * kh * kw / WEIGHT_BW  # per input x output channel pair
    wino = pk.points * tp / FMA_RATE + 4 * pk.points / WEIGHT_BW
    return wino < direct


@njit(**NUMBA_FLAGS)
def _input_transform(xh, t0, t_len, th, tw, v, tmp, zc):
    # xh (N, H, W, C) -> v[xi, r, :] = (B^T d B)[xi] of tile t0 + r; tmp (6, 6, C), zc (C,) zeros
    n, h, w, c = xh.shape
    for r in range(t_len):
        t = t0 + r
        b = t // (th * tw)
        ty = (t // tw) % th
        tx = t % tw
        y0 = 4 * ty - 1
        x0 = 4 * tx - 1
        for j in range(6):
            xj = x0 + j
            if xj < 0 or xj >= w:
                for k in range(6):
                    for ci in range(c):
                        tmp[k, j, ci] = np.float32(0.0)
                continue
            # rows outside the image read a zero vector (zero padding)
            r0 = xh[b, y0, xj] if y0 >= 0 else zc
            r1 = xh[b, y0 + 1, xj] if y0 + 1 < h else zc
            r2 = xh[b, y0 + 2, xj] if y0 + 2 < h else zc
            r3 = xh[b, y0 + 3, xj] if y0 + 3 < h else zc
            r4 = xh[b, y0 + 4, xj] if y0 + 4 < h else zc
            r5 = xh[b, y0 + 5, xj] if y0 + 5 < h else zc
            for ci in range(c):
                d0, d1, d2, d3, d4, d5 = r0[ci], r1[ci], r2[ci], r3[ci], r4[ci], r5[ci]
                tmp[0, j, ci] = _4 * d0 - _5 * d2 + d4
                tmp[1, j, ci] = -_4 * (d1 + d2) + d3 + d4
                tmp[2, j, ci] = _4 * (d1 - d2) - d3 + d4
                tmp[3, j, ci] = _2 * (d3 - d1) - d2 + d4
                tmp[4, j, ci] = _2 * (d1 - d3) - d2 + d4
                tmp[5, j, ci] = _4 * d1 - _5 * d3 + d5
        for k in range(6):
            for ci in range(c):
                d0, d1, d2, d3, d4, d5 = tmp[k, 0, ci], tmp[k, 1, ci], tmp[k, 2, ci], tmp[k, 3, ci], tmp[k, 4, ci], tmp[k, 5, ci]
                v[6 * k + 0, r, ci] = _4 * d0 - _5 * d2 + d4
                v[6 * k + 1, r, ci] = -_4 * (d1 + d2) + d3 + d4
                v[6 * k + 2, r, ci] = _4 * (d1 - d2) - d3 + d4
                v[6 * k + 3, r, ci] = _2 * (d3 - d1) - d2 + d4
                v[6 * k + 4, r, ci] = _2 * (d1 - d3) - d2 + d4
                v[6 * k + 5, r, ci] = _4 * d1 - _5 * d3 + d5


@njit(**NUMBA_FLAGS)
def _gemms(v, u, m):
    # m[xi, rb, ob] (MR, NR) = v[xi, rb*MR : rb*MR+MR, :] @ U[xi][:, ob*NR : ob*NR+NR]; v (P, Gp, C), Gp % MR == 0
    npts, gp, c = v.shape
    _, nrb, nob, _, _ = m.shape
    vf = v.reshape(-1)
    mf = m.reshape(-1)
    taps = TAP0
    blk = c * NR
    lines = blk // 16  # 64-byte lines per weight block
    for xi in range(npts):
        for ob in range(nob):
            # NOTE: one (C, 32) weight block stays in L1 while every tile row block uses it; the tile
            # stores its accumulators straight into m's (MR, NR) block (no copy). U is streamed from
            # memory once per call (MBs for the wide layers), so the next block is prefetched, spread
            # over this block's tile calls (measured -10% time on cnn.8-cnn.18, CPU time, same process)
            nxt = (xi * nob + ob + 1) * blk
            for rb in range(nrb):
                q = ((xi * nrb + rb) * nob + ob) * (MR * NR)
                _TF8(mf[q : q + MR * NR], vf, (xi * gp + rb * MR) * c, c, taps, c, u, (xi * nob + ob) * blk)
                for li in range(rb * lines // nrb, (rb + 1) * lines // nrb):
                    prefetch(u, nxt + li * 16)


@njit(**NUMBA_FLAGS)
def _store_tile_rows(ot, b, y0, x0, bias, relu, out):
    # ot (m, m, O): one tile's outputs before bias -> out (N, Ho, Wo, O) rows y0.., columns x0.. (clipped)
    _, ho, wo, o_len = out.shape
    mt = ot.shape[0]
    zero = np.float32(0.0)
    for i in range(min(mt, ho - y0)):
        for j in range(min(mt, wo - x0)):
            o = out[b, y0 + i, x0 + j]
            src = ot[i, j]
            for oc in range(o_len):
                v = src[oc] + bias[oc]
                o[oc] = (v if v > zero else zero) if relu else v


@njit(**NUMBA_FLAGS)
def _output_transform(m, t0, t_len, th, tw, bias, relu, out, tmp, ot):
    # out (N, Ho, Wo, O) NHWC <- A^T m A + bias (+ ReLU) for tiles t0 .. t0 + t_len;
    # m (36, Gp/MR, Op/NR, MR, NR); tmp (4, 6, Op), ot (4, 4, Op) scratch
    n, ho, wo, o_len = out.shape
    for r in range(t_len):
        t = t0 + r
        b = t // (th * tw)
        ty = (t // tw) % th
        tx = t % tw
        rb, ri = r // MR, r % MR
        for j in range(6):
            for ob in range(-(-o_len // NR)):
                for jj in range(NR):
                    oc = ob * NR + jj
                    m0, m1, m2 = m[j, rb, ob, ri, jj], m[6 + j, rb, ob, ri, jj], m[12 + j, rb, ob, ri, jj]
                    m3, m4, m5 = m[18 + j, rb, ob, ri, jj], m[24 + j, rb, ob, ri, jj], m[30 + j, rb, ob, ri, jj]
                    tmp[0, j, oc] = m0 + m1 + m2 + m3 + m4
                    tmp[1, j, oc] = m1 - m2 + _2 * (m3 - m4)
                    tmp[2, j, oc] = m1 + m2 + _4 * (m3 + m4)
                    tmp[3, j, oc] = m1 - m2 + _8 * (m3 - m4) + m5
        for i in range(4):
            for oc in range(o_len):
                a0, a1, a2, a3, a4, a5 = tmp[i, 0, oc], tmp[i, 1, oc], tmp[i, 2, oc], tmp[i, 3, oc], tmp[i, 4, oc], tmp[i, 5, oc]
                ot[i, 0, oc] = a0 + a1 + a2 + a3 + a4
                ot[i, 1, oc] = a1 - a2 + _2 * (a3 - a4)
                ot[i, 2, oc] = a1 + a2 + _4 * (a3 + a4)
                ot[i, 3, oc] = a1 - a2 + _8 * (a3 - a4) + a5
        _store_tile_rows(ot, b, 4 * ty, 4 * tx, bias, relu, out)


@njit(**NUMBA_FLAGS)
def _input_transform32(xh, t0, t_len, th, tw, v, tmp, zc):
    # F(3x3, 2x2), pad 0: tile origin (3ty, 3tx), 4x4 window; tmp (4, 4, C)
    n, h, w, c = xh.shape
    for r in range(t_len):
        t = t0 + r
        b = t // (th * tw)
        ty = (t // tw) % th
        tx = t % tw
        y0 = 3 * ty
        x0 = 3 * tx
        for j in range(4):
            xj = x0 + j
            if xj >= w:
                for k in range(4):
                    for ci in range(c):
                        tmp[k, j, ci] = np.float32(0.0)
                continue
            r0 = xh[b, y0, xj]
            r1 = xh[b, y0 + 1, xj] if y0 + 1 < h else zc
            r2 = xh[b, y0 + 2, xj] if y0 + 2 < h else zc
            r3 = xh[b, y0 + 3, xj] if y0 + 3 < h else zc
            for ci in range(c):
                d0, d1, d2, d3 = r0[ci], r1[ci], r2[ci], r3[ci]
                tmp[0, j, ci] = d0 - d2
                tmp[1, j, ci] = d1 + d2
                tmp[2, j, ci] = d2 - d1
                tmp[3, j, ci] = d3 - d1
        for k in range(4):
            for ci in range(c):
                d0, d1, d2, d3 = tmp[k, 0, ci], tmp[k, 1, ci], tmp[k, 2, ci], tmp[k, 3, ci]
                v[4 * k + 0, r, ci] = d0 - d2
                v[4 * k + 1, r, ci] = d1 + d2
                v[4 * k + 2, r, ci] = d2 - d1
                v[4 * k + 3, r, ci] = d3 - d1


@njit(**NUMBA_FLAGS)
def _output_transform32(m, t0, t_len, th, tw, bias, relu, out, tmp, ot):
    # F(3x3, 2x2): as _output_transform; m (16, Gp/MR, Op/NR, MR, NR); tmp (3, 4, Op), ot (3, 3, Op)
    n, ho, wo, o_len = out.shape
    for r in range(t_len):
        t = t0 + r
        b = t // (th * tw)
        ty = (t // tw) % th
        tx = t % tw
        rb, ri = r // MR, r % MR
        for j in range(4):
            for ob in range(-(-o_len // NR)):
                for jj in range(NR):
                    oc = ob * NR + jj
                    m0, m1, m2, m3 = m[j, rb, ob, ri, jj], m[4 + j, rb, ob, ri, jj], m[8 + j, rb, ob, ri, jj], m[12 + j, rb, ob, ri, jj]
                    tmp[0, j, oc] = m0 + m1 + m2
                    tmp[1, j, oc] = m1 - m2
                    tmp[2, j, oc] = m1 + m2 + m3
        for i in range(3):
            for oc in range(o_len):
                a0, a1, a2, a3 = tmp[i, 0, oc], tmp[i, 1, oc], tmp[i, 2, oc], tmp[i, 3, oc]
                ot[i, 0, oc] = a0 + a1 + a2
                ot[i, 1, oc] = a1 - a2
                ot[i, 2, oc] = a1 + a2 + a3
        _store_tile_rows(ot, b, 3 * ty, 3 * tx, bias, relu, out)


def group_tiles(n_tiles: int, points: int, c: int, o: int) -> int:
    """Tiles per group (a multiple of MR); see the module NOTE."""
    op = -(-o // NR) * NR
    if points * c * op * 4 > _BIG_WEIGHTS:
        g = n_tiles
    else:
        g = max(MR, _GROUP_BYTES // (points * (c + op) * 4))
    g = min(g, n_tiles)
    return -(-g // MR) * MR


def winograd_conv(xh: np.ndarray, pk: PackedWinograd, bias, code: int) -> np.ndarray:
    """(N, H, W, C) NHWC float32 -> (N, Ho, Wo, O) NHWC float32, stride 1 and the variant's padding
    (3x3: pad 1, same size; 2x2: pad 0, one row and column less), + bias + activation ``code``."""
    n, h, w, c = xh.shape
    o, _, kh, _ = pk.shape
    ho, wo = h + 2 * pk.pad - kh + 1, w + 2 * pk.pad - kh + 1
    op = -(-o // NR) * NR
    mt = pk.m
    alpha = mt + kh - 1
    th, tw = -(-ho // mt), -(-wo // mt)
    n_tiles = n * th * tw
    g = group_tiles(n_tiles, pk.points, c, o)
    v = np.zeros((pk.points, g, c), np.float32)
    m = np.empty((pk.points, g // MR, op // NR, MR, NR), np.float32)
    out = np.empty((n, ho, wo, o), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    tmp_in = np.empty((alpha, alpha, c), np.float32)
    tmp_out = np.empty((mt, alpha, op), np.float32)
    ot = np.empty((mt, mt, op), np.float32)
    zc = np.zeros(c, np.float32)
    # NOTE: the transforms fuse bias and ReLU only (one compiled epilogue, ~1.5 s less cold compile
    # than the generic activation switch); other activations run as a pass over the output
    relu = code == ACT_CODES["relu"]
    for t0 in range(0, n_tiles, g):
        t_len = min(g, n_tiles - t0)
        if kh == 3:
            _input_transform(xh, t0, t_len, th, tw, v, tmp_in, zc)
            _gemms(v, pk.packed, m)
            _output_transform(m, t0, t_len, th, tw, b, relu, out, tmp_out, ot)
        else:
            _input_transform32(xh, t0, t_len, th, tw, v, tmp_in, zc)
            _gemms(v, pk.packed, m)
            _output_transform32(m, t0, t_len, th, tw, b, relu, out, tmp_out, ot)
    if code not in (ACT_CODES["none"], ACT_CODES["relu"]):
        bias_act_rows(out.reshape(-1, o), None, ACT_NAMES[code])
    return out
