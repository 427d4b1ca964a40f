"""The aarch64 (NEON) versions of :mod:`.microkernel`'s tiles: same call signature, same packed layouts, same results.

# c (MR, NR) = sum over taps t and k < K: a[a_off + i*lda + taps[t] + k*E .. +E] . b[(t*K + k) block]

The packed layouts are the AVX-512 ones (NR = 32 columns); a 128-bit register holds 4 of them, so one 8 x 32 tile
would need 64 accumulators and AArch64 has 32 v-registers. Each tile is therefore emitted as sub-blocks of R rows x
V registers (16-24 accumulators), each with its own pass over taps and K (a and b re-read from L1). Kinds:

- ``"f32"``: ``llvm.fma.v4f32`` -> ``fmla v.4s`` (fused, like the x86 tile: results match it bit for bit).
- ``"sdot"`` (ARMv8.2 dotprod: Pi 5 / Cortex-A76, Neoverse): SDOT multiplies signed x signed bytes, the packed
  activations are unsigned, so the tile computes ``(a ^ 0x80) . b = (a - 128) . b`` (exact in int32) and leaves the
  ``128 * sum(b)`` per column to the caller (``A_BIAS``): the GEMM/LSTM inputs are ``x_q + 128`` so this is already
  the signed product they want, and a conv adds a per-output-channel constant. NOTE: the tile once computed the
  column sums itself (one SDOT against ones per b register): 12% more SDOTs in the convs, 2x in the MR=1 LSTM.
- ``"sdot_s8"``: the same tile on activations already stored as signed bytes (the conv's ``q ^ 0x80``), no ``eor``:
  the exact s8 x s8 product.
- ``"neon"`` (ARMv8.0: Pi 4 / Cortex-A72): ``u8 * s8`` fits int16 exactly (|product| <= 255 * 128 = 32640), so
  ``mul v.8h`` on zero-/sign-extended bytes, then ``sadalp`` (pairwise add into int32 lanes) and one ``addp``
  per output register at the end. Exact, no 16-bit sum is ever formed.
"""
from functools import partial

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import ir_build

#: What each int8 kind returns is ``sum (a - A_BIAS[kind]) * b`` (0 where absent: the exact u8 x s8 product).
A_BIAS = {"sdot": 128}


def _blocks(kind, mr, nvec):
    # (row0, rows, vec0, vecs) sub-blocks covering mr rows x nvec 128-bit column registers
    r = min(mr, 4)
    if kind == "neon":
        v = 2 if r == 4 else 4  # 2 int32 accumulators per b register
    elif kind in ("sdot", "sdot_s8"):
        v = 4 if r == 4 else 8  # MR <= 2 (the LSTM's GEMV): every column in one pass, the a row loaded once
    else:
        v = 4 if r == 4 else 8
    v = min(v, nvec)
    return [(r0, min(r, mr - r0), v0, min(v, nvec - v0)) for v0 in range(0, nvec, v) for r0 in range(0, mr, r)]


def make_tile(kind: str, mr: int, nv: int, lanes: int = 16):
    """The (``kind``, MR rows, ``nv * lanes`` columns) tile as a Numba intrinsic; ``tile(c, a, a_off, lda, taps,
    k_len, b, b_off)`` overwrites ``c[:MR*NR]`` (row-major), like :func:`.microkernel.tile_kernel`'s tiles."""
    from llvmlite import ir

    nr = nv * lanes
    nvec = nr // 4  # 128-bit registers per b row: 4 float32 or 4 columns x 4 bytes
    blocks = _blocks(kind, mr, nvec)

    @intrinsic
    def tile(typingctx, c, a, a_off, lda, taps, k_len, b, b_off):
        sig = types.void(c, a, a_off, lda, taps, k_len, b, b_off)

        def codegen(context, builder, signature, args):
            c_v, a_v, a_off_v, lda_v, taps_v, k_v, b_v, b_off_v = args
            cty, aty, _, _, tty, _, bty, _ = signature.args
            i8, i16, i32, i64, f32 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64), ir.FloatType()
            v4i32, v16i8, v8i16 = ir.VectorType(i32, 4), ir.VectorType(i8, 16), ir.VectorType(i16, 8)
            v4f32 = ir.VectorType(f32, 4)
            cp = ir_build.array_ptr(context, builder, cty, c_v)
            ap = ir_build.array_ptr(context, builder, aty, a_v)
            tarr = context.make_array(tty)(context, builder, taps_v)
            barr = context.make_array(bty)(context, builder, b_v)
            bp, bsize = barr.data, barr.itemsize
            mod = builder.module
            if kind == "f32":
                acc_ty, per_k_a, per_vec_b = v4f32, 1, 4
                fma = cgutils.get_or_insert_function(mod, ir.FunctionType(v4f32, [v4f32] * 3), "llvm.fma.v4f32")
            else:
                acc_ty, per_k_a, per_vec_b = v4i32, 4, 16
            dot = kind in ("sdot", "sdot_s8")
            if dot:
                from .microkernel import ir_pointer_suffix  # here: microkernel imports this module at load

                sdot = cgutils.get_or_insert_function(
                    mod, ir.FunctionType(v4i32, [v4i32, v16i8, v16i8]), "llvm.aarch64.neon.sdot.v4i32.v16i8")
                # ld1 {4 registers}: one instruction for 64 contiguous bytes of b (post-incremented by the row stride)
                ld1x4 = cgutils.get_or_insert_function(
                    mod, ir.FunctionType(ir.LiteralStructType([v16i8] * 4), [i8.as_pointer()]),
                    "llvm.aarch64.neon.ld1x4.v16i8." + ir_pointer_suffix("i8"))

                def flip(x):  # the "sdot" kind's unsigned bytes as signed (x - 128); "sdot_s8" reads signed bytes
                    return builder.xor(x, ir.Constant(v16i8, [0x80] * 16)) if kind == "sdot" else x
            if kind == "neon":
                saddlp = cgutils.get_or_insert_function(
                    mod, ir.FunctionType(v4i32, [v8i16]), "llvm.aarch64.neon.saddlp.v4i32.v8i16")
                addp = cgutils.get_or_insert_function(
                    mod, ir.FunctionType(v4i32, [v4i32, v4i32]), "llvm.aarch64.neon.addp.v4i32")
            a0 = builder.gep(ap, [builder.sext(a_off_v, i64)])
            lda64 = builder.sext(lda_v, i64)
            b0 = builder.gep(bp, [builder.sext(b_off_v, i64)])
            k64 = builder.sext(k_v, i64)
            ntap = builder.extract_value(tarr.shape, 0)
            zero = ir.Constant(acc_ty, None)
            izero4 = ir.Constant(v4i32, None)
            lo8 = ir.Constant(v16i8, None)

            def c64(x):
                return ir.Constant(i64, x)

            def _sdot_quad(q, arow, r0, nrow, nv_blk, accs):
                # 4 k steps: one 16-byte load (+ eor) per row, then SDOT by element (lane u of the row's register);
                # b in ld1 x4 groups: 4 instructions per 64 SDOTs of a 4 x 4 block where ldp pairs took 8
                v16p = v16i8.as_pointer()
                arows = []
                for i in range(nrow):
                    ptr = builder.gep(arow, [builder.add(builder.mul(lda64, c64(r0 + i)), builder.mul(q, c64(16)))])
                    arows.append(builder.bitcast(flip(builder.load(builder.bitcast(ptr, v16p), align=1)), v4i32))
                for u in range(4):
                    p = builder.load(bcur)
                    bvec = []
                    for j0 in range(0, nv_blk, 4):
                        if nv_blk - j0 >= 4:
                            quad = builder.call(ld1x4, [p])
                            bvec += [builder.extract_value(quad, j) for j in range(4)]
                        else:
                            bvec += [builder.load(builder.bitcast(builder.gep(p, [c64(16 * (j - j0))]), v16p), align=1)
                                     for j in range(j0, nv_blk)]
                        p = builder.gep(p, [bstep[j0]])
                    builder.store(p, bcur)
                    for i in range(nrow):
                        lane = builder.bitcast(builder.shuffle_vector(arows[i], izero4, ir.Constant(v4i32, [u] * 4)), v16i8)
                        for j in range(nv_blk):
                            acc = accs[i][j][0]
                            builder.store(builder.call(sdot, [builder.load(acc), bvec[j], lane]), acc)

            for r0, nrow, v0, nv_blk in blocks:
                nacc = 2 if kind == "neon" else 1
                accs = [[[cgutils.alloca_once_value(builder, zero) for _ in range(nacc)] for _ in range(nv_blk)]
                        for _ in range(nrow)]
                bcur = cgutils.alloca_once_value(builder, builder.gep(b0, [c64(per_vec_b * v0)]))
                if dot:
                    # b pointer steps after each group of 4 registers: to the next group, or past the row, in bytes
                    # times b's itemsize (1). NOTE: the itemsize is a run-time value to LLVM, so each step becomes the
                    # ld1's register post-increment; as constants LLVM addresses each ld1 from one base plus an add
                    bstep = {j0: builder.mul(bsize, c64(64 if j0 + 4 < nv_blk else 16 * (nvec - j0)))
                             for j0 in range(0, nv_blk, 4)}
                with cgutils.for_range(builder, ntap) as tl:
                    arow = builder.gep(a0, [builder.load(builder.gep(tarr.data, [tl.index]))])
                    kmain = c64(0)
                    if dot:
                        # NOTE: 8 k steps per iteration (ldp of two a quads) measured no fewer instructions: 169 per
                        # 128 SDOTs against 84 per 64 (ldp takes no register offset: one add per row, twice the eor)
                        kmain = builder.mul(builder.sdiv(k64, c64(4)), c64(4))
                        with cgutils.for_range(builder, builder.sdiv(k64, c64(4))) as ql:
                            _sdot_quad(ql.index, arow, r0, nrow, nv_blk, accs)
                    with cgutils.for_range(builder, builder.sub(k64, kmain)) as kl:
                        bb = builder.load(bcur)
                        bvec = []
                        for j in range(nv_blk):
                            ptr = builder.bitcast(builder.gep(bb, [c64(per_vec_b * j)]), (v4f32 if kind == "f32" else v16i8).as_pointer())
                            bvec.append(builder.load(ptr, align=1))
                        if kind == "neon":
                            wide = []
                            for x in bvec:
                                lo = builder.shuffle_vector(x, lo8, ir.Constant(ir.VectorType(i32, 8), list(range(8))))
                                hi = builder.shuffle_vector(x, lo8, ir.Constant(ir.VectorType(i32, 8), list(range(8, 16))))
                                wide.append((builder.sext(lo, v8i16), builder.sext(hi, v8i16)))
                        kk = builder.mul(builder.add(kl.index, kmain), c64(per_k_a))
                        for i in range(nrow):
                            ptr = builder.gep(arow, [builder.add(builder.mul(lda64, c64(r0 + i)), kk)])
                            if kind == "f32":
                                av = builder.load(ptr, align=4)
                                splat = ir_build.splat(builder, av, v4f32)
                                for j in range(nv_blk):
                                    acc = accs[i][j][0]
                                    builder.store(builder.call(fma, [splat, bvec[j], builder.load(acc)]), acc)
                                continue
                            aw = builder.load(builder.bitcast(ptr, i32.as_pointer()), align=1)
                            if dot:
                                s4 = ir_build.splat(builder, aw, v4i32)
                                sa = flip(builder.bitcast(s4, v16i8))
                                for j in range(nv_blk):
                                    acc = accs[i][j][0]
                                    builder.store(builder.call(sdot, [builder.load(acc), sa, bvec[j]]), acc)
                                continue
                            a4 = builder.zext(builder.bitcast(aw, ir.VectorType(i8, 4)), ir.VectorType(i16, 4))
                            a8 = builder.shuffle_vector(a4, ir.Constant(ir.VectorType(i16, 4), None),
                                                        ir.Constant(ir.VectorType(i32, 8), [0, 1, 2, 3, 0, 1, 2, 3]))
                            for j in range(nv_blk):
                                for h in range(2):
                                    acc = accs[i][j][h]
                                    prod = builder.mul(a8, wide[j][h])
                                    builder.store(builder.add(builder.load(acc), builder.call(saddlp, [prod])), acc)
                        builder.store(builder.gep(bb, [c64(per_vec_b * nvec)]), bcur)
                for i in range(nrow):
                    for j in range(nv_blk):
                        if kind == "neon":
                            val = builder.call(addp, [builder.load(accs[i][j][0]), builder.load(accs[i][j][1])])
                        else:
                            val = builder.load(accs[i][j][0])
                        dst = builder.gep(cp, [c64((r0 + i) * nr + 4 * (v0 + j))])
                        builder.store(val, builder.bitcast(dst, acc_ty.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return tile


def make_conv_epilogue(mr: int, nr: int):
    """``epi(ctile, out, o_off, ldo, cbias, sc, w_scale, bias, o0, relu)``: the int8 conv's dequantising epilogue for
    a full tile, ``out[o_off + j*ldo + i] = act(float32(ctile[i*nr + j] + cbias[o0 + j]) * (sc * w_scale[o0 + j])
    + bias[o0 + j])`` for i < mr, j < nr, act = ReLU if ``relu`` else none (others: the caller's scalar loop).
    Generic 128-bit vector IR (4x4 int32 transposes, so each store is 4 contiguous pixels of one channel): the
    scalar loop it replaces cost ~13 aarch64 instructions per output, the convs' largest cost after the SDOTs.
    Multiply and add stay separate roundings, as in the scalar loop (bit-identical results)."""
    assert mr % 4 == 0 and nr % 4 == 0

    @intrinsic
    def epi(typingctx, ctile, out, o_off, ldo, cbias, sc, w_scale, bias, o0, relu):
        sig = types.void(ctile, out, o_off, ldo, cbias, sc, w_scale, bias, o0, relu)

        def codegen(context, builder, signature, args):
            from llvmlite import ir

            sa = signature.args
            c_v, out_v, o_off_v, ldo_v, cb_v, sc_v, ws_v, b_v, o0_v, relu_v = args
            i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
            v4i32, v4f32 = ir.VectorType(i32, 4), ir.VectorType(f32, 4)
            o_off_v, ldo_v, o0_v = (context.cast(builder, v, t, types.int64) for v, t in
                                    ((o_off_v, sa[2]), (ldo_v, sa[3]), (o0_v, sa[8])))
            sc_v = context.cast(builder, sc_v, sa[5], types.float32)
            relu_v = context.cast(builder, relu_v, sa[9], types.boolean)

            cp, op, cbp, wsp, bp = (ir_build.array_ptr(context, builder, sa[k], v)
                                    for k, v in ((0, c_v), (1, out_v), (4, cb_v), (6, ws_v), (7, b_v)))

            def c64(x):
                return ir.Constant(i64, x)

            splat, vptr = partial(ir_build.splat, builder), partial(ir_build.vptr, builder)

            def shuf(a, b, idx):
                return builder.shuffle_vector(a, b, ir.Constant(v4i32, idx))

            zero = ir.Constant(v4f32, None)
            scv = splat(sc_v, v4f32)

            def body(relu):
                pc = builder.gep(op, [o_off_v])  # channel j's output row, stepped by ldo
                for j0 in range(0, nr, 4):
                    o = builder.add(o0_v, c64(j0))
                    # 4 channels' scales in one vector (fmul by element picks each); lane c = sc * w_scale[o + c]
                    ws4 = builder.fmul(scv, builder.load(vptr(wsp, o, v4f32), align=4))
                    chan = []
                    for c in range(4):
                        oc = builder.add(o, c64(c))
                        chan.append((splat(builder.load(builder.gep(cbp, [oc])), v4i32), shuf(ws4, ws4, [c] * 4),
                                     splat(builder.load(builder.gep(bp, [oc])), v4f32), pc))
                        pc = builder.gep(pc, [ldo_v])
                    for i0 in range(0, mr, 4):
                        rows = [builder.load(vptr(cp, c64((i0 + r) * nr + j0), v4i32), align=4) for r in range(4)]
                        lo01, hi01 = shuf(rows[0], rows[1], [0, 4, 1, 5]), shuf(rows[0], rows[1], [2, 6, 3, 7])
                        lo23, hi23 = shuf(rows[2], rows[3], [0, 4, 1, 5]), shuf(rows[2], rows[3], [2, 6, 3, 7])
                        cols = [shuf(lo01, lo23, [0, 1, 4, 5]), shuf(lo01, lo23, [2, 3, 6, 7]),
                                shuf(hi01, hi23, [0, 1, 4, 5]), shuf(hi01, hi23, [2, 3, 6, 7])]
                        for c in range(4):
                            cb, ws, bo, row = chan[c]
                            y = builder.fadd(builder.fmul(builder.sitofp(builder.add(cols[c], cb), v4f32), ws), bo)
                            if relu:
                                y = builder.select(builder.fcmp_ordered(">", y, zero), y, zero)
                            builder.store(y, vptr(row, c64(i0), v4f32), align=4)

            # NOTE: one body per activation (a select on the flag cost an extra instruction per vector)
            with builder.if_else(relu_v) as (then, otherwise):
                with then:
                    body(True)
                with otherwise:
                    body(False)
            return context.get_dummy_value()

        return sig, codegen

    return epi

