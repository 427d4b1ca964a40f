"""Every Numba kernel equals its NumPy reference twin on random shapes, strides and paddings."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from strategies import conv_cases, int8_conv_cases, int8_linear_cases, int8_lstm_cases, lstm_cases, pool_cases, winograd_cases
from tinycrnn.kernels import get_kernels
from tinycrnn.kernels.microkernel import HAS_AVX512
from tolerances import KERNEL_ATOL, KERNEL_RTOL, LSTM_ATOL, WINOGRAD_REL

NB = get_kernels("numba")
REF = get_kernels("numpy")


@given(conv_cases())
def test_conv2d_numba_matches_reference(case):
    x, w, b, stride, pad, groups, act = case
    got = NB.conv2d(x, w, b, stride, pad, groups, act)
    want = REF.conv2d(x, w, b, stride, pad, groups, act)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


def _nhwc(x):
    """``x`` (N, C, H, W) with NHWC memory, as the Winograd conv path returns activations."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@given(winograd_cases(), st.booleans())
def test_winograd_conv_matches_direct_reference(case, nhwc_input):
    from tinycrnn.kernels.conv import ACT_CODES
    from tinycrnn.kernels.winograd import winograd_conv

    x, w, b, pad, act = case
    want = REF.conv2d(x, w, b, (1, 1), pad, 1, act)
    tol = WINOGRAD_REL * float(np.abs(want).max())
    pk = NB.pack_conv(w, 1)
    if HAS_AVX512:  # the Winograd kernel itself, whatever the per-call cost model would pick
        got = winograd_conv(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), pk.wino, b, ACT_CODES[act])
        np.testing.assert_allclose(got.transpose(0, 3, 1, 2), want, rtol=0, atol=tol)
    got = NB.conv2d(_nhwc(x) if nhwc_input else x, pk, b, (1, 1), pad, 1, act)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL + tol)


@given(conv_cases(), st.integers(8, 12))
def test_conv2d_numba_nhwc_input_and_wide_direct_path(case, c):
    # direct path (any kernel, stride, padding) on an NHWC-memory input, with enough channels
    # that a 3x3 weight carries a Winograd packing too (used only at stride 1, pad 1)
    x, w, b, stride, pad, _, act = case
    rng = np.random.default_rng(c)
    x = rng.standard_normal(x.shape[:1] + (c,) + x.shape[2:]).astype(np.float32)
    w = rng.standard_normal(w.shape[:1] + (c,) + w.shape[2:]).astype(np.float32)
    want = REF.conv2d(x, w, b, stride, pad, 1, act)
    for xin in (x, _nhwc(x)):
        got = NB.conv2d(xin, NB.pack_conv(w, 1), b, stride, pad, 1, act)
        wino = stride == (1, 1) and (w.shape[2:], pad) in (((3, 3), (1, 1)), ((2, 2), (0, 0)))
        tol = WINOGRAD_REL * float(np.abs(want).max()) if wino else 0
        np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL + tol)


@given(st.integers(1, 2), st.integers(1, 40), st.integers(1, 9), st.integers(1, 40), st.sampled_from(["none", "relu"]),
       st.integers(0, 2**31 - 1))
def test_conv3x3_single_channel_is_bit_identical_to_the_tile(n, o, h, w, act, seed):
    # the 1-channel 3x3 loop (english_g2 cnn.0) replaced the im2col + tile path; the INT8 model
    # quantises its output, so it must reproduce the tile's fma chain exactly
    from tinycrnn.kernels import conv

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, h, w)).astype(np.float32)
    pk = NB.pack_conv(rng.standard_normal((o, 1, 3, 3)).astype(np.float32), 1)
    b = rng.standard_normal(o).astype(np.float32)
    if not isinstance(pk, conv.PackedConv):
        return  # no AVX-512: the BLAS path, nothing to compare
    cols = np.zeros((n, h, -(-w // conv.MR) * conv.MR, 9), np.float32)
    conv._im2col_nhwc(x, 3, 3, 1, 1, 1, 1, cols)
    want = np.empty((n, o, h, w), np.float32)
    conv._conv_direct(cols, 1, 1, np.zeros(1, np.int64), pk.packed, b, conv.ACT_CODES[act], False, want,
                      np.empty(conv.MR * conv.NR, np.float32))
    np.testing.assert_array_equal(NB.conv2d(x, pk, b, (1, 1), (1, 1), 1, act), want)


@given(pool_cases())
def test_maxpool2d_nhwc_input_matches_reference_exactly(case):
    x, k, s, p = case
    np.testing.assert_array_equal(NB.maxpool2d(_nhwc(x), k, s, p), REF.maxpool2d(x, k, s, p))
    np.testing.assert_allclose(NB.mean_height(_nhwc(x)), REF.mean_height(x), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(pool_cases())
def test_maxpool2d_numba_matches_reference_exactly(case):
    x, k, s, p = case
    np.testing.assert_array_equal(NB.maxpool2d(x, k, s, p), REF.maxpool2d(x, k, s, p))


@given(pool_cases())
def test_mean_height_numba_matches_reference(case):
    x = case[0]
    np.testing.assert_allclose(NB.mean_height(x), REF.mean_height(x), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(lstm_cases())
def test_bilstm_numba_matches_reference(case):
    x, fwd, bwd = case
    got = NB.bilstm(x, NB.pack_lstm(*fwd), NB.pack_lstm(*bwd))
    want = REF.bilstm(x, REF.pack_lstm(*fwd), REF.pack_lstm(*bwd))
    np.testing.assert_allclose(got, want, rtol=0, atol=LSTM_ATOL)


@given(
    st.integers(1, 3), st.integers(1, 9), st.integers(1, 17), st.integers(1, 13),
    st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]), st.booleans(), st.integers(0, 2**31 - 1),
)
def test_linear_numba_matches_reference(n, t, i, o, act, with_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, i)).astype(np.float32)
    w = rng.standard_normal((o, i)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if with_bias else None
    np.testing.assert_allclose(NB.linear(x, w, b, act), REF.linear(x, w, b, act), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


def test_lstm_reverse_direction_stores_state_at_visited_step():
    # with T=1 both directions see the same single step
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 3)).astype(np.float32)
    d = tuple(a.astype(np.float32) for a in (rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.standard_normal(8)))
    y = REF.bilstm(x, d, d)
    np.testing.assert_allclose(y[..., :2], y[..., 2:])


# ---- int8 kernels: bit-exact against their integer twins ------------------------------------


@given(int8_conv_cases())
def test_conv2d_int8_accumulators_match_reference_exactly(case):
    from tinycrnn.kernels.int8 import conv2d_int8_acc, pack_conv_int8
    from tinycrnn.kernels.ref import conv2d_int8_acc_ref

    x_q, w_q, stride, pad = case
    got = conv2d_int8_acc(x_q, pack_conv_int8(w_q), stride, pad)
    want = conv2d_int8_acc_ref(x_q, w_q, stride, pad)
    assert got.dtype == np.int32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@given(int8_conv_cases(), st.sampled_from(["none", "relu"]), st.booleans())
def test_conv2d_int8_float_output_matches_reference_exactly(case, act, with_bias):
    # same float32 epilogue (acc * scale + bias, no fastmath) on identical accumulators
    x_q, w_q, stride, pad = case
    rng = np.random.default_rng(x_q.size)
    x = (x_q.astype(np.float32) * np.float32(0.05) + rng.uniform(-0.02, 0.02, x_q.shape)).clip(0).astype(np.float32)
    x[-1] *= np.float32(rng.uniform(0, 3))  # lines get their own dynamic scales
    if x.shape[0] > 1:
        x[0] = 0.0  # an all-zero line: zero scale, guarded
    w_scale = (rng.random(w_q.shape[0]) * 0.01).astype(np.float32)
    bias = rng.standard_normal(w_q.shape[0]).astype(np.float32) if with_bias else None
    got = NB.conv2d_int8(x, NB.pack_conv_int8(w_q), w_scale, bias, stride, pad, act)
    want = REF.conv2d_int8(x, REF.pack_conv_int8(w_q), w_scale, bias, stride, pad, act)
    np.testing.assert_array_equal(got, want)


@given(int8_linear_cases(), st.sampled_from(["none", "relu"]))
def test_linear_int8_matches_reference_exactly(case, act):
    x, w_q, w_scale, bias = case
    got = NB.linear_int8(x, NB.pack_linear_int8(w_q, w_scale), bias, act)
    want = REF.linear_int8(x, REF.pack_linear_int8(w_q, w_scale), bias, act)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, want)


@given(int8_lstm_cases())
def test_bilstm_int8_matches_reference_exactly(case):
    # int32 accumulators, h quantisation and the rational gates are all reproduced bit for bit
    x, fwd, bwd = case
    got = NB.bilstm_int8(x, NB.pack_lstm_int8(*fwd), NB.pack_lstm_int8(*bwd))
    want = REF.bilstm_int8(x, REF.pack_lstm_int8(*fwd), REF.pack_lstm_int8(*bwd))
    np.testing.assert_array_equal(got, want)


_TILE_RUNNERS = {}


def _tile_runner(kind, mr, nv, fallback):
    """One compiled caller per tile variant (a fresh njit per example would recompile every time)."""
    from numba import njit

    from tinycrnn.kernels.microkernel import _make_fallback, tile_kernel

    key = (kind, mr, nv, fallback)
    if key not in _TILE_RUNNERS:
        tile = _make_fallback(kind, mr, nv) if fallback else tile_kernel(kind, mr, nv)
        _TILE_RUNNERS[key] = njit(lambda c, a, lda, taps, k, b: tile(c, a, 0, lda, taps, k, b, 0))
    return _TILE_RUNNERS[key]


@given(st.sampled_from([1, 2, 4, 8]), st.just(2), st.integers(1, 2), st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_microkernel_fallback_tiles_match_numpy(mr, nv, taps_n, k, seed):
    """The plain-loop tiles (CPUs without AVX-512 VNNI) and the intrinsic tiles compute the same thing."""
    from tinycrnn.kernels.microkernel import LANES

    rng = np.random.default_rng(seed)
    nr = nv * LANES
    lda = 4 * k * taps_n
    taps = np.arange(taps_n, dtype=np.int64) * 4 * k
    a = rng.integers(0, 256, mr * lda, dtype=np.uint8)
    b = rng.integers(-127, 128, taps_n * k * nr * 4, dtype=np.int8)
    # numpy: rows of a are (taps*k, 4) groups; b is (taps*k, nr, 4)
    want = np.einsum("mkr,knr->mn", a.reshape(mr, taps_n * k, 4).astype(np.int64), b.reshape(taps_n * k, nr, 4).astype(np.int64))
    from tinycrnn.kernels.microkernel import U8S8_A_BIAS  # the aarch64 sdot tile returns (a - 128) . b

    colsum = b.reshape(taps_n * k, nr, 4).astype(np.int64).sum(axis=(0, 2))
    for fallback in (False, True):
        c = np.zeros(mr * nr, np.int32)
        _tile_runner("u8s8", mr, nv, fallback)(c, a, lda, taps, k, b)
        np.testing.assert_array_equal(c.reshape(mr, nr), want - (0 if fallback else U8S8_A_BIAS) * colsum)
    af = rng.standard_normal(mr * k * taps_n).astype(np.float32)
    bf = rng.standard_normal(taps_n * k * nr).astype(np.float32)
    taps_f = np.arange(taps_n, dtype=np.int64) * k
    want_f = af.reshape(mr, taps_n * k) @ bf.reshape(taps_n * k, nr)
    for fallback in (False, True):
        c = np.zeros(mr * nr, np.float32)
        _tile_runner("f32", mr, nv, fallback)(c, af, k * taps_n, taps_f, k, bf)
        np.testing.assert_allclose(c.reshape(mr, nr), want_f, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
