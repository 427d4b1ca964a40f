"""Vector helpers of the aarch64 int8 path besides the tiles (:mod:`.tiles_arm`): the GEMM epilogue, the LSTM's gate
pre-activations and a 16 x 16 byte transpose for the conv's NHWC quantiser. Generic 128-bit LLVM vector IR (NEON on
aarch64, where the callers use them behind compile-time ``IS_AARCH64`` branches: dead code on x86); each performs
the same float32 operations per element as the scalar loop it replaces, so results stay bit-identical to the twins.
"""
from functools import partial

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import ir_build


def make_gemm_epilogue(mr: int, nr: int):
    """``epi(ctile, y, rows, m0, o0, corr, s_line, rows_per_line, w_scale, bias, relu)``: the int8 GEMM's epilogue for
    ``nr`` whole columns, ``y[m, o0 + j] = act(float32(ctile[i*nr + j] - corr[o0 + j]) * (s_line[m // rows_per_line]
    * w_scale[o0 + j]) + bias[o0 + j])`` for i < rows (<= mr), m = m0 + i, act = ReLU if ``relu`` else none (y 2-D
    C-contiguous). 4-column vector IR over contiguous outputs, the per-column constants loaded once per tile: the
    scalar loop it replaces cost ~13 aarch64 instructions per output. Same float32 operations in the same order
    (multiply and add rounded separately): bit-identical to the scalar loop."""
    assert nr % 4 == 0

    @intrinsic
    def epi(typingctx, ctile, y, rows, m0, o0, corr, s_line, rows_per_line, w_scale, bias, relu):
        sig = types.void(ctile, y, rows, m0, o0, corr, s_line, rows_per_line, w_scale, bias, relu)

        def codegen(context, builder, signature, args):
            from llvmlite import ir

            sa = signature.args
            c_v, y_v, rows_v, m0_v, o0_v, corr_v, sl_v, rpl_v, ws_v, b_v, relu_v = args
            i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
            v4i32, v4f32 = ir.VectorType(i32, 4), ir.VectorType(f32, 4)
            rows_v, m0_v, o0_v, rpl_v = (context.cast(builder, v, t, types.int64) for v, t in
                                         ((rows_v, sa[2]), (m0_v, sa[3]), (o0_v, sa[4]), (rpl_v, sa[7])))
            relu_v = context.cast(builder, relu_v, sa[10], types.boolean)

            cp, yp, crp, slp, wsp, bp = (ir_build.array_ptr(context, builder, sa[k], v) for k, v in
                                         ((0, c_v), (1, y_v), (5, corr_v), (6, sl_v), (8, ws_v), (9, b_v)))
            ldy = builder.extract_value(context.make_array(sa[1])(context, builder, y_v).shape, 1)

            def c64(x):
                return ir.Constant(i64, x)

            vload = partial(ir_build.vload, builder)

            zero = ir.Constant(v4f32, None)
            cols = []
            for j0 in range(0, nr, 4):
                o = builder.add(o0_v, c64(j0))
                cols.append((vload(crp, o, v4i32), vload(wsp, o, v4f32), vload(bp, o, v4f32)))
            with cgutils.for_range(builder, rows_v) as lp:
                i = lp.index
                m = builder.add(m0_v, i)
                sl = builder.load(builder.gep(slp, [builder.sdiv(m, rpl_v)]))
                slv = ir_build.splat(builder, sl, v4f32)
                for j0, (cr, ws, bo) in zip(range(0, nr, 4), cols):
                    acc = builder.sub(vload(cp, builder.add(builder.mul(i, c64(nr)), c64(j0)), v4i32), cr)
                    v = builder.fadd(builder.fmul(builder.sitofp(acc, v4f32), builder.fmul(slv, ws)), bo)
                    v = builder.select(relu_v, builder.select(builder.fcmp_ordered(">", v, zero), v, zero), v)
                    dst = ir_build.vptr(builder, yp, builder.add(builder.mul(m, ldy), builder.add(o0_v, c64(j0))), v4f32)
                    builder.store(v, dst, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return epi


def make_lstm_z(nr: int):
    """``zrow(ctile, c_off, z, xw, corr, hs, o0)``: the int8 LSTM's gate pre-activations for ``nr`` whole columns,
    ``z[o0 + j] = xw[o0 + j] + float32(ctile[c_off + j] - corr[o0 + j]) * hs[o0 + j]`` (1-D arrays), as 4-column
    vector IR; the same float32 operations per element as the scalar loop in :func:`.int8_drivers.make_lstm_rec`."""
    assert nr % 4 == 0

    @intrinsic
    def zrow(typingctx, ctile, c_off, z, xw, corr, hs, o0):
        sig = types.void(ctile, c_off, z, xw, corr, hs, o0)

        def codegen(context, builder, signature, args):
            from llvmlite import ir

            sa = signature.args
            c_v, c_off_v, z_v, xw_v, corr_v, hs_v, o0_v = args
            i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
            v4i32, v4f32 = ir.VectorType(i32, 4), ir.VectorType(f32, 4)
            c_off_v = context.cast(builder, c_off_v, sa[1], types.int64)
            o0_v = context.cast(builder, o0_v, sa[6], types.int64)
            cp, zp, xp, crp, hp = (ir_build.array_ptr(context, builder, sa[k], v)
                                   for k, v in ((0, c_v), (2, z_v), (3, xw_v), (4, corr_v), (5, hs_v)))

            def ptr(p, off, j, ty):
                return ir_build.vptr(builder, p, builder.add(off, ir.Constant(i64, j)), ty)

            for j in range(0, nr, 4):
                acc = builder.sub(builder.load(ptr(cp, c_off_v, j, v4i32), align=4),
                                  builder.load(ptr(crp, o0_v, j, v4i32), align=4))
                v = builder.fmul(builder.sitofp(acc, v4f32), builder.load(ptr(hp, o0_v, j, v4f32), align=4))
                v = builder.fadd(builder.load(ptr(xp, o0_v, j, v4f32), align=4), v)
                builder.store(v, ptr(zp, o0_v, j, v4f32), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return zrow


def _make_transpose16():
    @intrinsic
    def tr16(typingctx, src, s_off, s_ld, dst, d_off, d_ld):
        sig = types.void(src, s_off, s_ld, dst, d_off, d_ld)

        def codegen(context, builder, signature, args):
            from llvmlite import ir

            sa = signature.args
            src_v, s_off_v, s_ld_v, dst_v, d_off_v, d_ld_v = args
            i8, i32 = ir.IntType(8), ir.IntType(32)
            v16 = ir.VectorType(i8, 16)
            s_off_v, s_ld_v, d_off_v, d_ld_v = (context.cast(builder, v, t, types.int64) for v, t in
                                                ((s_off_v, sa[1]), (s_ld_v, sa[2]), (d_off_v, sa[4]), (d_ld_v, sa[5])))
            sp, dp = ir_build.array_ptr(context, builder, sa[0], src_v), ir_build.array_ptr(context, builder, sa[3], dst_v)

            def at(p, off, ld, k):
                return ir_build.row_ptr(builder, p, off, ld, k, v16)

            v = [builder.load(at(sp, s_off_v, s_ld_v, k), align=1) for k in range(16)]
            lo = ir.Constant(ir.VectorType(i32, 16), [i // 2 + 16 * (i % 2) for i in range(16)])  # zip1
            hi = ir.Constant(ir.VectorType(i32, 16), [8 + i // 2 + 16 * (i % 2) for i in range(16)])  # zip2
            for _ in range(4):  # each round rotates the (row, column) index bits by one: 4 rounds transpose
                v = [builder.shuffle_vector(v[j // 2], v[j // 2 + 8], lo if j % 2 == 0 else hi) for j in range(16)]
            for p in range(16):
                builder.store(v[p], at(dp, d_off_v, d_ld_v, p), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return tr16


#: ``tr16(src, s_off, s_ld, dst, d_off, d_ld)``: ``dst[d_off + p*d_ld + k] = src[s_off + k*s_ld + p]`` for k, p < 16
#: (1-D uint8 arrays): 16 loads, 4 rounds of 16 byte zips, 16 stores for 256 bytes, where the byte loop took ~3.5
#: instructions per byte on aarch64.
transpose16 = _make_transpose16()
