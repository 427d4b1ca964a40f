"""Numba conv2d. groups == 1 on AVX-512: direct convolution over a zero-padded NHWC copy of the
input with the register-tiled FMA micro-kernel (no im2col matrix, bias + activation fused).
Otherwise: im2col packing in Numba, one BLAS SGEMM per group, fused bias + activation.

# direct: out[n, o, y, x] = act(sum_{ky,kx,c} xp[n, y*sh+ky, x*sw+kx, c] * w[o, c, ky, kx] + b[o])
# im2col: w (O, C*kh*kw) @ cols (C*kh*kw, N*Ho*Wo) -> y (O, N*Ho*Wo), scattered to (N, O, Ho, Wo)

NOTE: the direct path replaced im2col + OpenBLAS SGEMM + scatter for english_g2: the NCHW ->
padded NHWC copy is ~1/9 of the im2col matrix, and the 8-pixel x 32-channel tile keeps 16 zmm
accumulators live across all kh*kw*C products (see benchmarks/RESULTS.md for timings).
A 1x1 stride-1 convolution of a single image skips packing on the im2col path.
"""
import numpy as np
from numba import njit

from ..config import NUMBA_FLAGS, NUMBA_FLAGS_EXACT
from .activations import ACT_CODES, _act, _bias_act_scatter
from .microkernel import HAS_AVX512, LANES, tile_kernel

MR, NV = 8, 2
NR = NV * LANES
_TF8 = tile_kernel("f32", MR, NV)


class PackedConv:
    """A groups == 1 conv weight repacked once at load as ``(O/NR, kh*kw, C, NR)`` float32 for the direct path."""

    def __init__(self, weight: np.ndarray):  # (O, C, kh, kw) float32
        o, c, kh, kw = weight.shape
        op = -(-o // NR) * NR
        w = np.zeros((op, kh, kw, c), np.float32)
        w[:o] = weight.transpose(0, 2, 3, 1)
        self.packed = np.ascontiguousarray(w.reshape(op // NR, NR, kh * kw, c).transpose(0, 2, 3, 1)).reshape(-1)
        self.shape = weight.shape
        self.weight = weight


def pack_conv(weight: np.ndarray, groups: int = 1):
    """What the conv op keeps: a :class:`PackedConv` when the direct path applies, else ``weight``."""
    return PackedConv(np.ascontiguousarray(weight, dtype=np.float32)) if _direct_applies(weight.shape, groups) else weight


def _direct_applies(shape, groups) -> bool:
    # NOTE: 1x1 convs stay on SGEMM: their NCHW input already is the GEMM operand (no im2col), and
    # OpenBLAS beat the direct path there on PP-OCRv2's pointwise convs (benchmarks/RESULTS.md)
    return groups == 1 and HAS_AVX512 and shape[2] * shape[3] > 1


@njit(**NUMBA_FLAGS_EXACT)
def _copy_nhwc(x, ph, pw, xp):
    # x (N, C, H, W) -> xp[:, ph:ph+H, pw:pw+W, :C] (border stays zero)
    n, c, h, w = x.shape
    for b in range(n):
        for iy in range(h):
            for ci in range(c):
                for ix in range(w):
                    xp[b, iy + ph, ix + pw, ci] = x[b, ci, iy, ix]


@njit(**NUMBA_FLAGS_EXACT)
def _im2col_nhwc(x, kh, kw, sh, sw, ph, pw, cols):
    # x (N, C, H, W) -> cols (N, Ho, WoP, kh*kw*C), k ordered (ky, kx, c) like PackedConv; zero outside
    n, c, h, w = x.shape
    _, ho, _, _ = cols.shape
    wo = (w + 2 * pw - kw) // sw + 1
    for b in range(n):
        for oy in range(ho):
            for i in range(kh):
                iy = oy * sh - ph + i
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    for ci in range(c):
                        k = (i * kw + j) * c + ci
                        for ox in range(wo):
                            ix = ox * sw - pw + j
                            if 0 <= ix < w:
                                cols[b, oy, ox, k] = x[b, ci, iy, ix]


@njit(**NUMBA_FLAGS)
def _conv_direct(xp, sh, sw, taps, wpk, bias, code, out, ctile):
    n, hp, wp, c = xp.shape
    _, o_len, ho, wo = out.shape
    xf = xp.reshape(-1)
    blk = taps.shape[0] * c * NR
    for ob in range(-(-o_len // NR)):
        for b in range(n):
            for oy in range(ho):
                for x0 in range(0, wo, MR):
                    _TF8(ctile, xf, ((b * hp + oy * sh) * wp + x0 * sw) * c, sw * c, taps, c, wpk, ob * blk)
                    for j in range(min(NR, o_len - ob * NR)):
                        o = ob * NR + j
                        bo = bias[o]  # hoisted: stores to `out` may alias `bias`
                        for i in range(min(MR, wo - x0)):
                            out[b, o, oy, x0 + i] = _act(ctile[i * NR + j] + bo, code)


def _conv2d_direct(x, pk: PackedConv, bias, stride, pad, act):
    n, c, h, w = x.shape
    o, _, kh, kw = pk.shape
    sh, sw = stride
    ph, pw = pad
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, o, ho, wo), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if c < 8 and kh * kw > 1:
        # NOTE: few input channels (the first conv on a gray image): one tap per k would leave the
        # tile loop mostly overhead, so unfold the window (cheap at C < 8) and run one k = kh*kw*C tap
        cols = np.zeros((n, ho, -(-wo // MR) * MR, kh * kw * c), np.float32)
        _im2col_nhwc(x, kh, kw, sh, sw, ph, pw, cols)
        _conv_direct(cols, 1, 1, np.zeros(1, np.int64), pk.packed, b, ACT_CODES[act], out, np.empty(MR * NR, np.float32))
        return out
    wp = max(w + 2 * pw, (-(-wo // MR) * MR - 1) * sw + kw)
    xp = np.zeros((n, h + 2 * ph, wp, c), np.float32)
    _copy_nhwc(x, ph, pw, xp)
    taps = np.array([(i * wp + j) * c for i in range(kh) for j in range(kw)], np.int64)
    _conv_direct(xp, sh, sw, taps, pk.packed, b, ACT_CODES[act], out, np.empty(MR * NR, np.float32))
    return out


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
    """Convolution (PyTorch semantics) + bias + activation; see the module docstring for the design.

    ``weight`` may be a :class:`PackedConv` (from :func:`pack_conv`, done once at load)."""
    if isinstance(weight, PackedConv):
        return _conv2d_direct(x, weight, bias, stride, pad, act)
    if _direct_applies(weight.shape, groups):
        return _conv2d_direct(x, PackedConv(np.ascontiguousarray(weight, dtype=np.float32)), bias, stride, pad, act)
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if groups > 1 and groups == c == o:  # depthwise: a direct loop beats one tiny GEMM per channel
        from .depthwise import depthwise_conv2d

        return depthwise_conv2d(x, weight, bias, stride, pad, act)
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
