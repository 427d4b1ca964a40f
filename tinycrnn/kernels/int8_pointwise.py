"""Numba int8 pointwise (1x1, stride 1, no padding) conv for AVX-512 VNNI and the portable path: signed inputs with
one dynamic int8 scale per pixel, on the u8 x s8 tile of :mod:`.microkernel` (weights the broadcast ``w_q + 128``
operand), with a zmm epilogue. Twin: ``ref.pointwise_int8_ref``. The AVX2 build's pointwise conv is
:func:`.int8_avx2.pointwise_int8`.
"""
from functools import partial

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import NUMBA_FLAGS_EXACT
from ..quant import QMAX
from . import int8_drivers as D
from . import ir_build
from .activations import ACT_CODES, _act
from .depthwise import ir_activation
from .int8_drivers import _ceil
from .ir_build import int64_args
from .microkernel import HAS_VEC, LANES, TAP0, U8S8_A_BIAS, ir_masked_f32, tile_kernel

MR, NV = 8, 2
NR = NV * LANES
_T8 = tile_kernel("u8s8", 8, NV)


@njit(**NUMBA_FLAGS_EXACT)
def _pixel_scales(x, s_pix, inv_pix):
    # x (N, C, P) float32 -> s_pix (N, P) = max_c |x[n, c, p]| / 127 and inv_pix = 1 / s_pix (0 for a zero pixel)
    n, c, p_len = x.shape
    tiny = np.float32(1.1754944e-38)
    for b in range(n):
        for p in range(p_len):
            s_pix[b, p] = np.float32(0.0)
        for ci in range(c):
            for p in range(p_len):
                v = abs(x[b, ci, p])
                s_pix[b, p] = v if v > s_pix[b, p] else s_pix[b, p]
        for p in range(p_len):
            sc = s_pix[b, p] / np.float32(QMAX)
            s_pix[b, p] = sc
            inv_pix[b, p] = np.float32(1.0) / sc if sc >= tiny else np.float32(0.0)


@njit(**NUMBA_FLAGS_EXACT)
def _pointwise_s8(wu, o_len, a, af, sx, s_pix, w_scale, bias, code, out, ctile):
    # acc (MR channels, NR pixels) int32 = (w_q + 128) @ q per tile (weights are the broadcast u8 operand,
    # activations the s8 vectors); true acc = acc - 128 * sx[p]; out (N, O, P) float32 =
    # act(acc * (s_pix[n, p] * w_scale[o]) + bias[o]), written as contiguous pixel runs
    n, pb_len, k4, _ = a.shape
    p_len = out.shape[2]
    kp = wu.shape[1]
    wf = wu.reshape(-1)
    taps = TAP0
    for b in range(n):
        for pb in range(pb_len):
            p0 = pb * NR
            m = min(NR, p_len - p0)
            for o0 in range(0, o_len, MR):
                _T8(ctile, wf, o0 * kp, kp, taps, k4, af, ((b * pb_len + pb) * k4) * NR * 4)
                for i in range(min(MR, o_len - o0)):
                    o = o0 + i
                    ws = w_scale[o]
                    bo = bias[o]
                    for j in range(m):
                        acc = ctile[i * NR + j] - (128 - U8S8_A_BIAS) * sx[b, p0 + j]
                        out[b, o, p0 + j] = _act(np.float32(acc) * (s_pix[b, p0 + j] * ws) + bo, code)


@intrinsic
def _pw_epilogue(typingctx, ctile, out, o_off, ldo, sx, s_pix, p_off, w_scale, bias, o0, nrows, m, code):
    """``out[o_off + i*ldo + j] = act((ctile[i*NR + j] - 128*sx[p_off + j]) * (s_pix[p_off + j] * w_scale[o0 + i])
    + bias[o0 + i])`` for i < nrows, j < m (1-D arrays; sx and s_pix readable to p_off + NR): the epilogue of
    ``_pointwise_s8`` on zmm registers. NOTE: LLVM's own loop there runs on ymm (host tuning) with the
    activation as a select chain: ~30% of a 256 x 256 x 640 layer, about 3x what this costs."""
    sig = types.void(ctile, out, o_off, ldo, sx, s_pix, p_off, w_scale, bias, o0, nrows, m, code)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        sa = signature.args
        c_v, out_v, o_off_v, ldo_v, sx_v, s_v, p_off_v, ws_v, b_v, o0_v, nrows_v, m_v, code_v = int64_args(
            context, builder, args, sa)
        i64, i32, f32 = ir.IntType(64), ir.IntType(32), ir.FloatType()
        vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)
        _, mstore = ir_masked_f32(builder)

        vload, splat = partial(ir_build.vload, builder), partial(ir_build.splat, builder)
        cp, op, sxp, sp, wsp, bp = (ir_build.array_ptr(context, builder, sa[k], v)
                                    for k, v in ((0, c_v), (1, out_v), (4, sx_v), (5, s_v), (7, ws_v), (8, b_v)))
        iota = ir.Constant(ivec, list(range(LANES)))
        m32 = builder.trunc(m_v, i32)
        masks = [builder.icmp_signed("<", iota, splat(builder.sub(m32, ir.Constant(i32, LANES * v)), ivec)) for v in range(NV)]
        corr = [builder.mul(vload(sxp, builder.add(p_off_v, ir.Constant(i64, LANES * v)), ivec),
                            ir.Constant(ivec, [128 - U8S8_A_BIAS] * LANES)) for v in range(NV)]
        sc = [vload(sp, builder.add(p_off_v, ir.Constant(i64, LANES * v)), vec) for v in range(NV)]
        with cgutils.for_range(builder, nrows_v) as lp:
            i = lp.index
            o = builder.add(o0_v, i)
            ws = splat(builder.load(builder.gep(wsp, [o])), vec)
            bo = splat(builder.load(builder.gep(bp, [o])), vec)
            ys = []
            for v in range(NV):
                t_off = builder.add(builder.mul(i, ir.Constant(i64, NR)), ir.Constant(i64, LANES * v))
                acc = builder.sub(vload(cp, t_off, ivec), corr[v])
                ys.append(builder.fadd(builder.fmul(builder.sitofp(acc, vec), builder.fmul(sc[v], ws)), bo))
            ys = ir_activation(builder, code_v, ys)
            row = builder.add(o_off_v, builder.mul(i, ldo_v))
            for v, y in enumerate(ys):
                dst = builder.gep(op, [builder.add(row, ir.Constant(i64, LANES * v))])
                mstore(y, dst, masks[v])
        return context.get_dummy_value()

    return sig, codegen


@njit(**NUMBA_FLAGS_EXACT)
def _pointwise_s8_zmm(wu, o_len, a, af, sx, s_pix, w_scale, bias, code, out, ctile):
    # _pointwise_s8 with the zmm epilogue (AVX-512 CPUs); af: a's bytes as flat int8 (viewed in Python:
    # a view inside @njit compiles another overload on every fresh cache)
    n, pb_len, k4, _ = a.shape
    p_len = out.shape[2]
    pp = sx.shape[1]
    kp = wu.shape[1]
    wf = wu.reshape(-1)
    of = out.reshape(-1)
    sxf = sx.reshape(-1)
    sf = s_pix.reshape(-1)
    taps = TAP0
    for b in range(n):
        for pb in range(pb_len):
            p0 = pb * NR
            m = min(NR, p_len - p0)
            for o0 in range(0, o_len, MR):
                _T8(ctile, wf, o0 * kp, kp, taps, k4, af, ((b * pb_len + pb) * k4) * NR * 4)
                _pw_epilogue(ctile, of, (b * o_len + o0) * p_len + p0, p_len, sxf, sf, b * pp + p0, w_scale, bias, o0,
                             min(MR, o_len - o0), m, code)


def pack_pointwise_int8(w_q: np.ndarray, w_scale: np.ndarray):  # (O, C, 1, 1) int8, (O,) float32
    """``w_q + 128`` as uint8 ``(Op, Kp)`` rows (O padded to MR, C to 4; padding 128 meets zero activations)."""
    o = w_q.shape[0]
    w2 = w_q.reshape(o, -1).astype(np.int16) + 128
    c = w2.shape[1]
    wu = np.full((_ceil(o, MR), _ceil(c, 4)), 128, np.uint8)
    wu[:o, :c] = w2.astype(np.uint8)
    return (wu, o, np.ascontiguousarray(w_scale, dtype=np.float32))


def pointwise_int8(x: np.ndarray, pack, bias, act: str = "none", fast: bool = True) -> np.ndarray:
    # (N, C, H, W) float32 -> (N, O, H, W) float32
    """1x1 stride-1 conv on signed inputs: dynamic int8 with one scale per pixel (``max_c |x[n, :, p]|
    / 127``, like per-token scales). vpdpbusd needs one unsigned operand: here the broadcast one is
    the weights as ``w_q + 128`` and the exact correction is ``128 * sum_c q[c, p]`` per pixel, so each
    tile is 8 output channels x 32 pixels and the NCHW output is written in contiguous pixel runs.
    Twin: ``ref.pointwise_int8_ref``.

    NOTE: per pixel, not per line as the other int8 layers: with all 13 PP-OCRv2 pointwise convs in
    int8, zh_lines exact was 76.1 with one scale per line and 78.6 per pixel (FP32 96.9); most of the
    loss is the early, narrow convs, which the shipped file keeps FP32 (benchmarks/RESULTS.md).
    ``fast=False`` forces the plain epilogue loop (what CPUs without AVX-512 run; tests compare both)."""
    wu, o, w_scale = pack
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, c, h, w = x.shape
    p_len = h * w
    pp = _ceil(p_len, NR)
    x3 = x.reshape(n, c, p_len)
    s = np.zeros((n, pp), np.float32)
    inv = np.empty((n, p_len), np.float32)
    _pixel_scales(x3, s, inv)
    a = np.zeros((n, pp // NR, _ceil(c, 4) // 4, NR), np.uint32)
    sx = np.zeros((n, pp), np.int32)
    D.quant_pixels_s8(x3, inv, a, sx)
    out = np.empty((n, o, h, w), np.float32)
    b = bias if bias is not None else np.zeros(o, np.float32)
    run = _pointwise_s8_zmm if HAS_VEC and fast else _pointwise_s8
    run(wu, o, a, a.reshape(-1).view(np.int8), sx, s, w_scale, b, ACT_CODES[act], out.reshape(n, o, p_len),
        np.empty(MR * NR, np.int32))
    return out
