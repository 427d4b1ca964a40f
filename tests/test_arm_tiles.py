"""aarch64 tiles (``kernels.tiles_arm``) against NumPy, and the CPU-feature dispatch that picks them.

The tile tests run only on aarch64 (emulated in CI: ``.ci/arm64.sh``); the ``sdot`` tile only where both the CPU and
Numba's target have dotprod (compiling it elsewhere aborts the process). The dispatch tests run everywhere.
"""
import os
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycrnn.kernels import cpu_features
from tinycrnn.kernels.cpu_features import DOTPROD_CPUS, IS_AARCH64, target_has_dotprod

_RUNNERS = {}


def _runner(kind, mr, nv):
    from numba import njit

    from tinycrnn.kernels.tiles_arm import make_tile

    key = (kind, mr, nv)
    if key not in _RUNNERS:
        tile = make_tile(kind, mr, nv)
        _RUNNERS[key] = njit(lambda c, a, lda, taps, k, b: tile(c, a, 0, lda, taps, k, b, 0))
    return _RUNNERS[key]


def _int8_kinds():
    return ["neon", "sdot", "sdot_s8"] if cpu_features.arm_int8_kind() == "sdot" else ["neon"]


@pytest.mark.skipif(not IS_AARCH64, reason="aarch64 tiles: run under ../shared/tools/arm64 emulation (.ci/arm64.sh)")
@given(st.sampled_from([1, 2, 4, 8]), st.integers(1, 3), st.integers(1, 9), st.integers(0, 2**31 - 1), st.booleans())
def test_arm_int8_tiles_match_numpy_exactly(mr, taps_n, k, seed, extreme):
    """u8 x s8 tiles, int32 results equal to the exact products (sdot: of ``(a - 128) x b``, its ``A_BIAS``; sdot_s8:
    of a's bytes read as int8, the conv's pre-flipped activations), including 255 x -128 everywhere (sdot's flipped
    bytes and the int16 products of the ARMv8.0 tile at their limits)."""
    rng = np.random.default_rng(seed)
    nr = 32
    lda = 4 * k * taps_n
    taps = np.arange(taps_n, dtype=np.int64) * 4 * k
    if extreme:
        a = rng.choice(np.array([0, 1, 127, 128, 255], np.uint8), mr * lda)
        b = rng.choice(np.array([-128, -127, -1, 0, 1, 127], np.int8), taps_n * k * nr * 4)
    else:
        a = rng.integers(0, 256, mr * lda, dtype=np.uint8)
        b = rng.integers(-128, 128, taps_n * k * nr * 4, dtype=np.int8)
    want = np.einsum("mkr,knr->mn", a.reshape(mr, taps_n * k, 4).astype(np.int64), b.reshape(taps_n * k, nr, 4).astype(np.int64))
    from tinycrnn.kernels.tiles_arm import A_BIAS

    colsum = b.reshape(taps_n * k, nr, 4).astype(np.int64).sum(axis=(0, 2))
    a_s = a.view(np.int8).reshape(mr, taps_n * k, 4).astype(np.int64)
    want_s8 = np.einsum("mkr,knr->mn", a_s, b.reshape(taps_n * k, nr, 4).astype(np.int64))
    for kind in _int8_kinds():
        c = np.zeros(mr * nr, np.int32)
        _runner(kind, mr, 2)(c, a, lda, taps, k, b)
        expect = want_s8 if kind == "sdot_s8" else want - A_BIAS.get(kind, 0) * colsum
        np.testing.assert_array_equal(c.reshape(mr, nr), expect, err_msg=kind)


@pytest.mark.skipif(not IS_AARCH64, reason="aarch64 tiles: run under ../shared/tools/arm64 emulation (.ci/arm64.sh)")
def test_arm_f32_tile_matches_fused_numpy():
    """fmla tile: each product-sum rounded as one fused step per k (float64 reference within float32 rounding)."""
    rng = np.random.default_rng(3)
    for mr in (1, 2, 4, 8):
        k, taps_n, nr = 13, 2, 32
        af = rng.standard_normal(mr * k * taps_n).astype(np.float32)
        bf = rng.standard_normal(taps_n * k * nr).astype(np.float32)
        taps = np.arange(taps_n, dtype=np.int64) * k
        want = af.reshape(mr, -1).astype(np.float64) @ bf.reshape(-1, nr).astype(np.float64)
        c = np.zeros(mr * nr, np.float32)
        _runner("f32", mr, 2)(c, af, k * taps_n, taps, k, bf)
        np.testing.assert_allclose(c.reshape(mr, nr), want, rtol=1e-5, atol=1e-4)


def test_target_dotprod_follows_feature_string_then_cpu_name():
    assert target_has_dotprod("cortex-a76", "")
    assert not target_has_dotprod("cortex-a72", "")
    assert target_has_dotprod("generic", "+neon,+dotprod")
    assert not target_has_dotprod("cortex-a76", "+neon,-dotprod")
    assert not target_has_dotprod("some-future-core", "")  # unknown names: the safe ARMv8.0 tile
    assert {"cortex-a76", "neoverse-n1"} <= DOTPROD_CPUS and "cortex-a72" not in DOTPROD_CPUS


def test_hwcap_is_read_from_auxv_pairs(tmp_path):
    auxv = tmp_path / "auxv"
    auxv.write_bytes(struct.pack("<6Q", 6, 4096, 16, (1 << 20) | 0xFF, 0, 0))
    assert cpu_features._hwcap_auxv(str(auxv)) == (1 << 20) | 0xFF
    assert cpu_features._hwcap_auxv(str(tmp_path / "missing")) is None
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\n")
    assert "asimddp" in cpu_features._cpuinfo_features(str(info))


def test_no_dotprod_off_aarch64():
    if not IS_AARCH64:
        assert not cpu_features.cpu_has_dotprod()


def _asm_ops(kind, mr):
    import re

    import numba as nb

    from tinycrnn.kernels.microkernel import tile_kernel

    sig = (nb.int32[::1] if kind == "u8s8" else nb.float32[::1], nb.uint8[::1] if kind == "u8s8" else nb.float32[::1],
           nb.int64, nb.int64[::1], nb.int64, nb.int8[::1] if kind == "u8s8" else nb.float32[::1])
    tile = tile_kernel(kind, mr, 2)
    run = nb.njit(sig)(lambda c, a, lda, taps, k, b: tile(c, a, 0, lda, taps, k, b, 0))
    asm = "\n".join(run.inspect_asm().values())
    return set(re.findall(r"^\s+([a-z][a-z0-9.]*)\s", asm, re.M))


@pytest.mark.skipif(not IS_AARCH64, reason="aarch64 code generation: run under emulation (.ci/arm64.sh)")
def test_arm_hot_loops_use_fmla_and_the_expected_int8_instruction():
    """The production tiles (``microkernel.tile_kernel``) compile to ``fmla`` and to ``sdot`` (dotprod) or ``sadalp``
    (ARMv8.0). ``TINYCRNN_EXPECT_ARM_INT8=sdot|neon`` (set by .ci/arm64.sh per emulated CPU) pins the dispatch."""
    expect = os.environ.get("TINYCRNN_EXPECT_ARM_INT8")
    kind = cpu_features.arm_int8_kind()
    if expect:
        assert kind == expect
    assert "fmla" in _asm_ops("f32", 8)
    ops = _asm_ops("u8s8", 8)
    assert ("sdot" if kind == "sdot" else "sadalp") in ops, sorted(ops)
    if kind == "neon":
        assert "sdot" not in ops


@pytest.mark.parametrize("act", ["none", "relu"])
def test_int8_conv_full_tiles_match_twin_exactly(act):
    """Full 8-pixel x 32-channel conv tiles take the vector epilogue on aarch64 (none/ReLU)
    and the sdot tile's per-channel ``cbias``: float outputs equal the NumPy twin bit for bit. Runs everywhere."""
    from tinycrnn.kernels import get_kernels
    from tinycrnn.kernels import int8 as K8

    ref = get_kernels("numpy")
    rng = np.random.default_rng(7)
    x = (rng.random((2, 5, 6, 21)) * 3).astype(np.float32)
    w_q = rng.integers(-127, 128, (70, 5, 3, 3), dtype=np.int8)
    w_scale = (rng.random(70) * 0.01).astype(np.float32)
    bias = rng.standard_normal(70).astype(np.float32)
    for stride in ((1, 1), (2, 1)):
        got = K8.conv2d_int8(x, K8.pack_conv_int8(w_q), w_scale, bias, stride, (1, 1), act)
        want = ref.conv2d_int8(x, ref.pack_conv_int8(w_q), w_scale, bias, stride, (1, 1), act)
        np.testing.assert_array_equal(got, want)


def test_int8_linear_and_lstm_full_blocks_match_twins_exactly():
    """Whole 32-column blocks take the vector epilogues on aarch64 (the GEMM's dequantisation, the LSTM's gate
    pre-activations): outputs equal the NumPy twins bit for bit, with 2 lines of 11 steps (per-line scales, a partial
    8-row tile) and a partial last column block. Runs everywhere."""
    from tinycrnn.kernels import get_kernels
    from tinycrnn.kernels import int8 as K8

    ref = get_kernels("numpy")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 11, 40)).astype(np.float32)
    x[1] *= np.float32(3.0)
    w_q = rng.integers(-127, 128, (70, 40), dtype=np.int8)
    w_scale = (rng.random(70) * 0.01).astype(np.float32)
    bias = rng.standard_normal(70).astype(np.float32)
    for act in ("none", "relu"):
        got = K8.linear_int8(x, K8.pack_linear_int8(w_q, w_scale), bias, act)
        want = ref.linear_int8(x, ref.pack_linear_int8(w_q, w_scale), bias, act)
        np.testing.assert_array_equal(got, want, err_msg=act)
    h = 24  # 4H = 96: three whole 32-column blocks

    def lstm_dir():
        return (rng.integers(-127, 128, (4 * h, 40), dtype=np.int8), (rng.random(4 * h) * 0.02).astype(np.float32),
                rng.integers(-127, 128, (4 * h, h), dtype=np.int8), (rng.random(4 * h) * 0.02).astype(np.float32),
                rng.standard_normal(4 * h).astype(np.float32))

    fwd, bwd = lstm_dir(), lstm_dir()
    got = K8.bilstm_int8(x, K8.pack_lstm_int8(*fwd), K8.pack_lstm_int8(*bwd))
    want = ref.bilstm_int8(x, ref.pack_lstm_int8(*fwd), ref.pack_lstm_int8(*bwd))
    np.testing.assert_array_equal(got, want)


def test_conv_quantiser_writes_nhwc_like_numpy():
    """``int8._quant_nhwc_u8``: uint8 NHWC (``^ 0x80`` on aarch64 dotprod, ``int8._FLIP``) equal to NumPy's, with
    16 x 16 byte-transposed blocks on aarch64 and scalar edges (37 channels, 35 pixels: both edges), border kept."""
    from tinycrnn.kernels import int8 as K8

    rng = np.random.default_rng(5)
    for n, c, h, w in ((2, 37, 3, 35), (1, 32, 2, 48)):
        x = (rng.random((n, c, h, w)) * 3).astype(np.float32)
        inv = np.array([40.0, 30.5], np.float32)[:n]
        xp = np.full((n, h + 2, w + 3, -(-c // 4) * 4), 7, np.uint8)
        K8._quant_nhwc_u8(x, inv, 1, 2, xp)
        q = np.clip(np.rint(x * inv[:, None, None, None]), 0, 255).astype(np.uint8) ^ np.uint8(K8._FLIP)
        want = np.full_like(xp, 7)
        want[:, 1 : 1 + h, 2 : 2 + w, :c] = q.transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(xp, want)
