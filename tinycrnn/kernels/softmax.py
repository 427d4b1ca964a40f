"""Numba softmax over the class axis (models whose graph ends in Softmax, e.g. PP-OCR).

# out[m, k] = exp(x[m, k] - max_k x[m]) / sum_k exp(x[m, k] - max_k x[m]), float32

``exp`` is Cephes' ``expf`` (range reduction by ln 2, degree-6 polynomial, relative error
about 1e-7), written out so the loop vectorises: scalar ``np.exp`` calls cost 4x more on
PP-OCR's 80 x 6625 output. The twin is ``ref.softmax_ref`` (NumPy ``exp``).

On vector-FMA CPUs (AVX-512; AVX2 + FMA as two ymm halves) each row is one intrinsic (:func:`_softmax_row_zmm`): the same formula on zmm
registers in three passes (max; exp, 2**n and the sum; scale), tails masked. LLVM's own loops
here use ymm (the host tuning prefers 256-bit vectors) and five passes: 0.35 ms vs ~0.1 ms for
80 x 6625 (benchmarks/RESULTS.md). Other CPUs run the Numba loops below.
"""
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import NUMBA_FLAGS
from . import ir_build
from .microkernel import HAS_VEC, LANES, ir_masked_f32

# Cephes expf constants (the literals of `_softmax_row`)
_LOG2E, _C1, _C2, _LO = 1.44269504088896341, 0.693359375, -2.12194440e-4, -87.0
_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)


@intrinsic
def _softmax_row_zmm(typingctx, y, off, k_len):
    """In place on ``y[off : off + k_len]`` (1-D float32): softmax, as ``_softmax_row``."""
    sig = types.void(y, off, k_len)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        y_v = args[0]
        off_v, k_v = (context.cast(builder, a, t, types.int64) for a, t in zip(args[1:], signature.args[1:]))
        i64, i32, f32 = ir.IntType(64), ir.IntType(32), ir.FloatType()
        vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)
        mod = builder.module
        mload, mstore = ir_masked_f32(builder)
        vmax = cgutils.get_or_insert_function(mod, ir.FunctionType(vec, [vec, vec]), "llvm.maxnum.v16f32")
        floor = cgutils.get_or_insert_function(mod, ir.FunctionType(vec, [vec]), "llvm.floor.v16f32")
        fma = cgutils.get_or_insert_function(mod, ir.FunctionType(vec, [vec, vec, vec]), "llvm.fma.v16f32")

        def splat(v):
            return ir.Constant(vec, [v] * LANES)

        base = builder.gep(ir_build.array_ptr(context, builder, signature.args[0], y_v), [off_v])
        nfull = builder.sdiv(k_v, ir.Constant(i64, LANES))
        rem = builder.trunc(builder.sub(k_v, builder.mul(nfull, ir.Constant(i64, LANES))), i32)
        tmask = builder.icmp_signed("<", ir.Constant(ivec, list(range(LANES))),
                                    ir_build.splat(builder, rem, ivec))
        tail = builder.gep(base, [builder.mul(nfull, ir.Constant(i64, LANES))])

        def ptr(i):
            return builder.bitcast(builder.gep(base, [builder.mul(i, ir.Constant(i64, LANES))]), vec.as_pointer())

        # pass 1: max
        ninf = splat(float("-inf"))
        mx = cgutils.alloca_once_value(builder, ninf)
        with cgutils.for_range(builder, nfull) as lp:
            builder.store(builder.call(vmax, [builder.load(mx), builder.load(ptr(lp.index), align=4)]), mx)
        m = builder.call(vmax, [builder.load(mx), mload(tail, tmask, ninf)])
        s = builder.extract_element(m, ir.Constant(i32, 0))
        for lane in range(1, LANES):
            e = builder.extract_element(m, ir.Constant(i32, lane))
            s = builder.select(builder.fcmp_ordered(">", e, s), e, s)
        mxv = ir_build.splat(builder, s, vec)

        def expv(xv):  # exp(max(x - mx, -87)), Cephes expf
            v = builder.call(vmax, [builder.fsub(xv, mxv), splat(_LO)])
            fn = builder.call(floor, [builder.call(fma, [v, splat(_LOG2E), splat(0.5)])])
            r = builder.call(fma, [fn, splat(-_C2), builder.call(fma, [fn, splat(-_C1), v])])
            z = builder.fmul(r, r)
            p = splat(_P[0])
            for c in _P[1:]:
                p = builder.call(fma, [p, r, splat(c)])
            e = builder.fadd(builder.call(fma, [p, z, r]), splat(1.0))
            n = builder.shl(builder.fptosi(fn, ivec), ir.Constant(ivec, [23] * LANES))
            return builder.bitcast(builder.add(builder.bitcast(e, ivec), n), vec)

        # pass 2: exponentials in place, and their sum
        acc = cgutils.alloca_once_value(builder, ir.Constant(vec, None))
        with cgutils.for_range(builder, nfull) as lp:
            e = expv(builder.load(ptr(lp.index), align=4))
            builder.store(e, ptr(lp.index), align=4)
            builder.store(builder.fadd(builder.load(acc), e), acc)
        e = builder.select(tmask, expv(mload(tail, tmask, ir.Constant(vec, None))), ir.Constant(vec, None))
        mstore(e, tail, tmask)
        a = builder.fadd(builder.load(acc), e)
        tot = builder.extract_element(a, ir.Constant(i32, 0))
        for lane in range(1, LANES):
            tot = builder.fadd(tot, builder.extract_element(a, ir.Constant(i32, lane)))
        inv = builder.fdiv(ir.Constant(f32, 1.0), tot)
        invv = ir_build.splat(builder, inv, vec)
        # pass 3: scale
        with cgutils.for_range(builder, nfull) as lp:
            builder.store(builder.fmul(builder.load(ptr(lp.index), align=4), invv), ptr(lp.index), align=4)
        mstore(builder.fmul(mload(tail, tmask, ir.Constant(vec, None)), invv), tail, tmask)
        return context.get_dummy_value()

    return sig, codegen


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


@njit(**NUMBA_FLAGS)
def _softmax_rows_zmm(y):
    # y (M, K) float32 in place
    m_len, k_len = y.shape
    yf = y.reshape(m_len * k_len)
    for m in range(m_len):
        _softmax_row_zmm(yf, m * k_len, k_len)


def softmax(x: np.ndarray, out=None, fast: bool = True) -> np.ndarray:  # (..., K) float32 -> (..., K) float32
    """Softmax over the last axis in float32, into ``out`` (C-contiguous float32, x's shape; may be
    ``x`` itself: each row's max is taken before the row is overwritten) or a new array.
    ``fast=False`` forces the Numba loops (what CPUs without vector FMA run; tests compare both)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = x.shape[-1]
    if out is None:
        out = np.empty(x.shape, np.float32)
    if HAS_VEC and fast:
        if out is not x:
            out[...] = x
        _softmax_rows_zmm(out.reshape(-1, k))
    elif out is x:
        _softmax_rows_inplace(out.reshape(-1, k), np.empty(k, np.int32), np.empty(16, np.float32))
    else:
        _softmax_rows(x.reshape(-1, k), out.reshape(-1, k), np.empty(k, np.int32), np.empty(16, np.float32))
    return out
