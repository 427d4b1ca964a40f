"""Kernel backends behind one interface: ``numba`` (default, compiled) and ``numpy`` (reference twins).

A backend is a namespace of functions with identical signatures; ops never branch on the
backend. Importing this package imports neither Numba nor the kernels: :func:`get_kernels`
does, on first use.
"""
from types import SimpleNamespace

_CACHE = {}


def _pack_lstm_ref(w_ih, w_hh, b):
    return (w_ih, w_hh, b)


def _pack_lstm_numba(w_ih, w_hh, b):
    from .lstm import pack_lstm

    return pack_lstm(w_ih, w_hh, b)


def _pack_conv_ref(weight, groups=1):
    return weight


def _linear_int8_ref(x, pack, bias, act="none"):
    from .ref import linear_int8_ref

    return linear_int8_ref(x, pack[0], pack[1], bias, act)


def _linear_numba(x, weight, bias, act="none"):
    import numpy as np

    from .activations import bias_act_rows
    from .conv import PackedLinear, linear_direct

    if isinstance(weight, PackedLinear):
        return linear_direct(x, weight, bias, act)

    # NOTE: row blocks, so the bias + activation pass reads each block while it is still in L2
    # (PP-OCR's 6625-wide head: 2 MB of output per line)
    xm = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    y = np.empty((xm.shape[0], weight.shape[0]), np.float32)
    wt = weight.T
    for m0 in range(0, xm.shape[0], 64):
        blk = y[m0 : m0 + 64]
        np.matmul(xm[m0 : m0 + 64], wt, out=blk)
        bias_act_rows(blk, bias, act)
    return y.reshape(x.shape[:-1] + (weight.shape[0],))


def int8_is_fast(backend: str = "numba") -> bool:
    """Whether int8 models run faster than their FP32 twins here: the Numba kernels on a CPU with AVX-512 VNNI
    (:mod:`.int8`), or with AVX2 (:mod:`.int8_avx2`, also AVX-VNNI) on a core with two vector integer multiply pipes.

    On x86 without AVX2 the int8 tiles are portable loops, far slower than the FP32 models on the same
    CPU (before the AVX2 tiles, compiled for Haswell: ppocrv2_zh 15.5 ms, its int8 file 152 ms per 32x320
    line). On aarch64 they are NEON tiles (:mod:`.tiles_arm`: sdot on ARMv8.2, mul + sadalp on ARMv8.0),
    measured only as executed instructions under emulation (a76: english_g2 int8 0.49x its FP32 model; a72:
    2.3x), not timed on a real core, so the defaults keep FP32 models there (``page.defaults.fast_models``).
    On AVX2 the int8 files read the same texts as on AVX-512 (exact integer kernels); on a Zen 3 core they run about
    0.7x (english_g2: exact int8 Winograd convs, :mod:`.int8_winograd`) and 0.76x (PP-OCRv2) their FP32 time per
    line, because ``vpmaddwd`` issues on two pipes there (~1.5x FP32's multiply-adds per cycle). Haswell, Broadwell,
    Zen 1 and Zen 2 issue it on one (:func:`.cpu_features.one_int_multiply_pipe`): int8 multiply-adds at FP32's
    rate, so the int8 convs lose what the LSTMs gain (estimated ~1.0x per line, not measured) and the FP32 models,
    the reference's numbers, are the defaults there. Figures in benchmarks/RESULTS.md.
    """
    return int8_slow_reason(backend) is None


def int8_slow_reason(backend: str = "numba"):
    """Why int8 models are not the faster ones here (one line for a warning), or None where they are."""
    if backend != "numba":
        return "the NumPy reference kernels are not the fast ones"
    from .int8_avx2 import AVAILABLE
    from .microkernel import HAS_VNNI

    if HAS_VNNI:
        return None
    if not AVAILABLE:
        return ("a CPU without AVX2 or AVX-512 VNNI, where tinycrnn's int8 kernels are not measured faster than its "
                "FP32 ones (x86 without AVX2: portable loops; ARM: NEON tiles, only instruction counts under "
                "emulation so far)")
    from .cpu_features import one_int_multiply_pipe, target_cpu_name

    if one_int_multiply_pipe():
        return (f"a {target_cpu_name()} core, which issues AVX2's int8 multiply-add on one pipe: int8 runs at about "
                "FP32's speed there (estimated from instruction tables, not measured)")
    return None


def _graph_ref():
    from . import ref_graph as r

    return dict(
        add=r.add_ref, concat=r.concat_ref, upsample_nearest=r.upsample_nearest_ref, affine=r.affine_ref,
        act=r.act_ref, global_avg_pool=r.global_avg_pool_ref, pack_conv_transpose=lambda w: w,
        conv_transpose2d=lambda x, w, shape, bias, s, p, act: r.conv_transpose2d_ref(x, w, bias, s, p, act),
        conv2d_affine=r.conv2d_affine_ref,
    )


def _graph_numba():
    from . import conv_transpose as ct
    from . import graph_ops as g

    return dict(
        add=g.add, concat=g.concat, upsample_nearest=g.upsample_nearest, affine=g.affine, act=g.act,
        global_avg_pool=g.global_avg_pool, pack_conv_transpose=ct.pack_conv_transpose,
        conv_transpose2d=ct.conv_transpose2d, conv2d_affine=g.conv2d_affine,
    )


def get_kernels(backend: str) -> SimpleNamespace:
    """The kernel namespace of ``backend`` (``"numba"`` or ``"numpy"``)."""
    if backend not in _CACHE:
        if backend == "numpy":
            from . import ref

            ns = SimpleNamespace(
                name="numpy",
                conv2d=ref.conv2d_ref,
                maxpool2d=ref.maxpool2d_ref,
                mean_height=ref.mean_height_ref,
                linear=ref.linear_ref,
                pack_linear=lambda w: w,
                pack_lstm=_pack_lstm_ref,
                bilstm=ref.bilstm_ref,
                pack_conv=_pack_conv_ref,
                pack_conv_int8=_pack_conv_ref,
                conv2d_int8=ref.conv2d_int8_ref,
                pack_linear_int8=lambda w_q, w_scale: (w_q, w_scale),
                linear_int8=_linear_int8_ref,
                pack_lstm_int8=lambda *t: t,
                bilstm_int8=ref.bilstm_int8_ref,
                pack_pointwise_int8=lambda w_q, w_scale: (w_q, w_scale),
                pointwise_int8=lambda x, pack, bias, act="none": ref.pointwise_int8_ref(x, pack[0], pack[1], bias, act),
                se=ref.se_ref,
                softmax=ref.softmax_ref,
                resize_linear=ref.resize_linear_ref,
                **_graph_ref(),
            )
        elif backend == "numba":
            from . import conv, int8, int8_avx2, lstm, pool, resize, se, softmax
            from .compile_events import announce_compiles
            from .microkernel import HAS_VNNI

            # the AVX2 (and AVX-VNNI) tiles where AVX-512 VNNI is absent; AVX-512 VNNI keeps .int8
            i8 = int8_avx2 if int8_avx2.AVAILABLE and not HAS_VNNI else int8

            announce_compiles()

            ns = SimpleNamespace(
                name="numba",
                conv2d=conv.conv2d,
                maxpool2d=pool.maxpool2d,
                mean_height=pool.mean_height,
                linear=_linear_numba,
                pack_linear=conv.pack_linear,
                pack_lstm=_pack_lstm_numba,
                bilstm=lstm.bilstm,
                pack_conv=conv.pack_conv,
                pack_conv_int8=i8.pack_conv_int8,
                conv2d_int8=i8.conv2d_int8,
                pack_linear_int8=i8.pack_linear_int8,
                linear_int8=i8.linear_int8,
                pack_lstm_int8=i8.pack_lstm_int8,
                bilstm_int8=i8.bilstm_int8,
                pack_pointwise_int8=i8.pack_pointwise_int8,
                pointwise_int8=i8.pointwise_int8,
                se=se.se,
                softmax=softmax.softmax,
                resize_linear=resize.resize_linear,
                **_graph_numba(),
            )
        else:
            raise ValueError(f"unknown kernel backend {backend!r}; use 'numba' or 'numpy'")
        _CACHE[backend] = ns
    return _CACHE[backend]
