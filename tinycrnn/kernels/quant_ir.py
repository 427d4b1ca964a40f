"""The per-pixel int8 quantiser of the AVX2 pointwise conv (:mod:`.int8_avx2`) as vector IR: one full block of
16 pixels, every channel pair, packed as the int16-pair tile reads it.

# a[a_off + 16k + j] = (q(x[x_off + 2k*ldx + j]) & 0xFFFF) | (q(x[x_off + (2k+1)*ldx + j]) << 16),  k < kf, j < 16
# q(v) = int32(min(max(rint(v * inv[i_off + j]), -127), 127))

NOTE: as a Numba loop (one slice of each channel row per 16-pixel block, ``int8_avx2._quant_pixels2``) this ran at
~0.7 cycles per element: the block's 16-iteration loop paid its trip-count and alias checks every time, and with
flat indexing LLVM did not vectorise it at all. Here each channel pair is two 16-lane loads, the multiply, round,
clamp, convert and pack, and one 64-byte store. The same float32 operations as the loop (IEEE multiply, rint
rounding half to even, the clamp, truncating conversion of an integral value): bit-identical for finite inputs;
the pointwise tests compare against the NumPy twin through it.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..quant import QMAX
from . import ir_build
from .ir_build import int64_args

LANES = 16


@intrinsic
def quant_pairs16(typingctx, x, x_off, ldx, inv, i_off, a, a_off, kf):
    """Inside ``@njit`` code (1-D float32 ``x`` and ``inv``, 1-D uint32 ``a``, offsets in elements): the module
    docstring's formula for ``kf`` channel pairs of one 16-pixel block."""
    sig = types.void(x, x_off, ldx, inv, i_off, a, a_off, kf)

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        sa = signature.args
        x_v, x_off_v, ldx_v, inv_v, i_off_v, a_v, a_off_v, kf_v = int64_args(context, builder, args, sa)
        i64, i32, f32 = ir.IntType(64), ir.IntType(32), ir.FloatType()
        vec, ivec = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)
        rint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec]), "llvm.rint.v16f32")

        def vload(ptr, off):
            return ir_build.vload(builder, ptr, off, vec)

        xp, ap, invp = (ir_build.array_ptr(context, builder, sa[k], v) for k, v in ((0, x_v), (5, a_v), (3, inv_v)))
        invv = vload(invp, i_off_v)
        lo, hi = ir.Constant(vec, [-float(QMAX)] * LANES), ir.Constant(vec, [float(QMAX)] * LANES)
        m16, s16 = ir.Constant(ivec, [0xFFFF] * LANES), ir.Constant(ivec, [16] * LANES)

        def q(v):
            r = builder.call(rint, [builder.fmul(v, invv)])
            r = builder.select(builder.fcmp_ordered(">", r, lo), r, lo)
            r = builder.select(builder.fcmp_ordered("<", r, hi), r, hi)
            return builder.fptosi(r, ivec)

        with cgutils.for_range(builder, kf_v) as lp:
            r0 = builder.add(x_off_v, builder.mul(lp.index, builder.mul(ldx_v, ir.Constant(i64, 2))))
            q0 = q(vload(xp, r0))
            q1 = q(vload(xp, builder.add(r0, ldx_v)))
            packed = builder.or_(builder.and_(q0, m16), builder.shl(q1, s16))
            dst = ir_build.vptr(builder, ap, builder.add(a_off_v, builder.mul(lp.index, ir.Constant(i64, LANES))), ivec)
            builder.store(packed, dst, align=4)
        return context.get_dummy_value()

    return sig, codegen
