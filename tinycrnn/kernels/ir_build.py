"""The LLVM IR building blocks that every kernel written as an intrinsic needs: an array's data pointer, a
vector pointer or load at an element offset (or at row k of a strided block), a broadcast, and integer arguments
widened to i64.

Why a module of its own: every intrinsic module of this package wrote these few lines again as local closures.
They emit exactly the instructions the closures did (the same loads, alignments and shuffles), so the machine code
is unchanged.
"""
from numba import types


def array_ptr(context, builder, ty, val):
    """The data pointer of the Numba array ``val`` of type ``ty``."""
    return context.make_array(ty)(context, builder, val).data


def vptr(builder, ptr, off, ty):
    """``ptr + off`` (elements) as a pointer to ``ty`` (a vector type)."""
    return builder.bitcast(builder.gep(ptr, [off]), ty.as_pointer())


def row_ptr(builder, ptr, off, stride, k, ty):
    """``ptr + off + k*stride`` (elements; ``k`` a Python int) as a pointer to ``ty``: row ``k`` of a strided block."""
    from llvmlite import ir

    return vptr(builder, ptr, builder.add(off, builder.mul(stride, ir.Constant(ir.IntType(64), k))), ty)


def vload(builder, ptr, off, ty, align=4):
    """The ``ty`` vector at element ``off`` of ``ptr`` (unaligned beyond ``align`` bytes)."""
    return builder.load(vptr(builder, ptr, off, ty), align=align)


def splat(builder, x, ty):
    """The scalar ``x`` in every lane of a ``ty`` vector (insertelement + zero-mask shufflevector)."""
    from llvmlite import ir

    z = ir.Constant(ty, None)
    lane0 = ir.Constant(ir.IntType(32), 0)
    return builder.shuffle_vector(builder.insert_element(z, x, lane0), z, ir.Constant(ir.VectorType(ir.IntType(32), ty.count), None))


def int64_args(context, builder, args, sig_args):
    """``args`` with every integer argument cast to int64 (arrays and floats as they are)."""
    return [context.cast(builder, a, t, types.int64) if isinstance(t, types.Integer) else a
            for a, t in zip(args, sig_args)]
