"""PP-OCR's ops against their NumPy twins: depthwise conv, squeeze-excitation, softmax."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycrnn.errors import WeightFormatError
from tinycrnn.kernels import get_kernels
from tinycrnn.kernels.depthwise import depthwise_conv2d
from tolerances import KERNEL_ATOL, KERNEL_RTOL

NB = get_kernels("numba")
REF = get_kernels("numpy")
#: float32 softmax: probabilities are <= 1, the fast exp is good to ~2e-7 relative.
SOFTMAX_ATOL = 1e-6


@st.composite
def depthwise_cases(draw, kernels=((3, 3), (5, 5), (1, 1), (3, 1), (2, 4)), strides=((1, 1), (2, 1), (1, 2), (2, 2), (3, 1))):
    c = draw(st.integers(1, 8))
    k = draw(st.sampled_from(kernels))
    s = draw(st.sampled_from(strides))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h = draw(st.integers(max(1, k[0] - 2 * p[0]), 10))
    # up to 6 blocks of 16 columns: the row kernel's masked first/last and plain middle blocks
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), 96))
    n = draw(st.integers(1, 3))
    act = draw(st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((c, 1) + k).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, s, p, act


@given(depthwise_cases())
def test_depthwise_numba_matches_reference(case):
    x, w, b, s, p, act = case
    c = x.shape[1]
    want = REF.conv2d(x, w, b, s, p, c, act)
    got = depthwise_conv2d(x, w, b, s, p, act)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    if c > 1:  # conv2d routes groups == C == O > 1 to it
        np.testing.assert_array_equal(NB.conv2d(x, w, b, s, p, c, act), got)


@given(depthwise_cases(kernels=((3, 3), (5, 5)), strides=((1, 1), (2, 1))))
def test_depthwise_row_kernel_and_plain_loop_agree(case):
    """PP-OCR's windows take the AVX-512 row kernel where the CPU has it; ``fast=False`` is the
    plain loop every other CPU runs: both equal the reference."""
    x, w, b, s, p, act = case
    want = REF.conv2d(x, w, b, s, p, x.shape[1], act)
    for fast in (True, False):
        got = depthwise_conv2d(x, w, b, s, p, act, fast=fast)
        np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@st.composite
def se_cases(draw):
    n, c, r = draw(st.integers(1, 3)), draw(st.integers(1, 24)), draw(st.integers(1, 8))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    alpha = draw(st.sampled_from([1.0 / 6.0, 0.16666670143604279, 0.2]))
    return f(n, c, h, w), f(r, c), f(r), f(c, r), f(c), alpha, draw(st.sampled_from([0.5, 0.4]))


@given(se_cases())
def test_se_numba_matches_reference(case):
    np.testing.assert_allclose(NB.se(*case), REF.se(*case), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


def test_se_reference_is_the_textbook_formula():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4, 3, 5)).astype(np.float32)
    w1, b1 = rng.standard_normal((2, 4)), rng.standard_normal(2)
    w2, b2 = rng.standard_normal((4, 2)), rng.standard_normal(4)
    gate = np.clip((w2 @ np.maximum(w1 @ x[0].mean(axis=(1, 2)) + b1, 0) + b2) / 6 + 0.5, 0, 1)
    args = [a.astype(np.float32) for a in (w1, b1, w2, b2)]
    np.testing.assert_allclose(REF.se(x, *args), x * gate[None, :, None, None], rtol=1e-5, atol=1e-6)


@given(st.integers(1, 3), st.integers(1, 12), st.integers(1, 300), st.floats(0.1, 40.0), st.integers(0, 2**31 - 1))
def test_softmax_numba_matches_reference(n, t, k, scale, seed):
    x = (np.random.default_rng(seed).standard_normal((n, t, k)) * scale).astype(np.float32)
    got = NB.softmax(x)
    np.testing.assert_allclose(got, REF.softmax(x), rtol=0, atol=SOFTMAX_ATOL)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


@given(st.integers(1, 3), st.integers(1, 40), st.floats(0.1, 40.0), st.integers(0, 2**31 - 1))
def test_softmax_zmm_rows_and_plain_loops_agree(t, k16, scale, seed):
    """AVX-512 CPUs take the intrinsic row kernel (masked tail), others the Numba loops (``fast=False``)."""
    from tinycrnn.kernels.softmax import softmax

    rng = np.random.default_rng(seed)
    k = int(rng.integers(max(1, 16 * k16 - 15), 16 * k16 + 1))  # every tail length 1..16
    x = (rng.standard_normal((t, k)) * scale).astype(np.float32)
    want = REF.softmax(x)
    for fast in (True, False):
        np.testing.assert_allclose(softmax(x, fast=fast), want, rtol=0, atol=SOFTMAX_ATOL)
        y = x.copy()
        assert softmax(y, out=y, fast=fast) is y
        np.testing.assert_allclose(y, want, rtol=0, atol=SOFTMAX_ATOL)


def test_softmax_extreme_logits_stay_finite():
    from tinycrnn.kernels.softmax import softmax

    x = np.array([[[0.0, -1e4, 1e4, np.float32(-3e38)]]], np.float32)
    for fast in (True, False):
        got = softmax(x, fast=fast)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, [[[0.0, 0.0, 1.0, 0.0]]], atol=1e-7)


def _se_op(tensors, shape=(4, 3, 5)):
    from tinycrnn.ops import get_op

    return get_op("se")({"op": "se", "name": "se.0", "reduced": 2}, tensors, shape, NB)


def test_se_op_checks_tensor_shapes_at_load():
    f = np.float32
    good = {"se.0.w1": np.ones((2, 4), f), "se.0.b1": np.ones(2, f), "se.0.w2": np.ones((4, 2), f), "se.0.b2": np.ones(4, f)}
    op = _se_op(good)
    assert op.out_shape((4, 3, 5)) == (4, 3, 5) and op.used == set(good)
    with pytest.raises(WeightFormatError, match="se.0.w2"):
        _se_op({**good, "se.0.w2": np.ones((2, 4), f)})
    with pytest.raises(WeightFormatError, match="image input"):
        _se_op(good, shape=(10, 4))


def test_softmax_op_needs_a_sequence():
    from tinycrnn.ops import get_op

    op = get_op("softmax")({"op": "softmax"}, {}, (80, 6625), NB)
    assert op.out_shape((80, 6625)) == (80, 6625)
    with pytest.raises(WeightFormatError, match="sequence"):
        get_op("softmax")({"op": "softmax"}, {}, (3, 32, 100), NB)


@given(st.integers(1, 3), st.integers(1, 12), st.integers(1, 300), st.integers(0, 2**31 - 1))
def test_softmax_in_place_matches_reference(n, t, k, seed):
    x = (np.random.default_rng(seed).standard_normal((n, t, k)) * 8).astype(np.float32)
    want = REF.softmax(x)
    y = x.copy()
    assert NB.softmax(y, out=y) is y
    np.testing.assert_allclose(y, want, rtol=0, atol=SOFTMAX_ATOL)
    y = x.copy()
    np.testing.assert_allclose(REF.softmax(y, out=y), want, rtol=0, atol=0)


@st.composite
def pointwise_cases(draw):
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 70)), draw(st.integers(1, 70))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = (rng.standard_normal((n, c, h, w)) * rng.uniform(0.1, 10, (n, 1, 1, 1))).astype(np.float32)
    weight = rng.standard_normal((o, c, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, draw(st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]))


@given(pointwise_cases())
def test_pointwise_fp32_numba_matches_reference(case):
    """1x1 stride-1 convs take the per-line SGEMM path for every batch size."""
    x, w, b, act = case
    np.testing.assert_allclose(NB.conv2d(x, w, b, act=act), REF.conv2d(x, w, b, act=act),
                               rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(pointwise_cases())
def test_pointwise_int8_numba_matches_reference(case):
    """Signed int8 pointwise conv: integer products exact, float epilogue to rounding (FMA contraction)."""
    from tinycrnn.kernels.int8 import pack_pointwise_int8, pointwise_int8
    from tinycrnn.quant import quantize_rows

    x, w, b, act = case
    w_q, w_scale = quantize_rows(w)
    want = REF.pointwise_int8(x, REF.pack_pointwise_int8(w_q, w_scale), b, act)
    got = NB.pointwise_int8(x, NB.pack_pointwise_int8(w_q, w_scale), b, act)
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    # the plain epilogue loop of the AVX-512 module against its zmm one (or the portable one)
    plain = pointwise_int8(x, pack_pointwise_int8(w_q, w_scale), b, act, fast=False)
    np.testing.assert_allclose(plain, got, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    # a line's result never depends on its batch (per-line scales)
    np.testing.assert_array_equal(NB.pointwise_int8(x[-1:], NB.pack_pointwise_int8(w_q, w_scale), b, act), got[-1:])


def test_pointwise_int8_reference_is_dequantised_fp32_within_int8_error():
    from tinycrnn.quant import quantize_rows

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 64, 4, 40)).astype(np.float32)
    w = rng.standard_normal((32, 64, 1, 1)).astype(np.float32)
    w_q, w_scale = quantize_rows(w)
    got = REF.pointwise_int8(x, (w_q, w_scale), None, "none")
    want = REF.conv2d(x, w, None)
    nmse = float(((got - want) ** 2).sum() / (want ** 2).sum())
    assert nmse < 1e-3
