"""The graph ops' Numba kernels equal their NumPy twins (kernels/ref_graph.py) on random shapes:
up-sampling fused into add and concat, transposed convolution (any kernel, stride, padding),
affine, standalone activations, global average pooling. Inputs also come with NHWC memory, as a
Winograd conv returns them."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinycrnn.kernels import get_kernels
from tolerances import GRAPH_SIGMOID_ATOL, KERNEL_ATOL, KERNEL_RTOL

NB = get_kernels("numba")
REF = get_kernels("numpy")
ACTS = ["none", "relu", "hardswish", "hardsigmoid", "sigmoid"]


def _nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@st.composite
def up_inputs(draw, same_channels):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 7))
    k = draw(st.integers(2, 4))
    c = draw(st.integers(1, 5))
    xs, ups = [], []
    for _ in range(k):
        fh, fw = draw(st.sampled_from([(1, 1), (2, 2), (4, 4), (1, 2), (3, 1)]))
        ups.append((fh, fw))
        ci = c if same_channels else draw(st.integers(1, 5))
        x = rng.standard_normal((n, ci, h * 12 // fh, w * 12 // fw)).astype(np.float32)
        xs.append(_nhwc(x) if draw(st.booleans()) else x)
    return xs, ups


@given(up_inputs(True), st.sampled_from(ACTS))
def test_add_with_upsampled_inputs_matches_twin(case, act):
    xs, ups = case
    np.testing.assert_allclose(NB.add(xs, ups, act), REF.add(xs, ups, act), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(up_inputs(False))
def test_concat_with_upsampled_inputs_matches_twin_exactly(case):
    xs, ups = case
    np.testing.assert_array_equal(NB.concat(xs, ups), REF.concat(xs, ups))
    np.testing.assert_array_equal(NB.upsample_nearest(xs[0], ups[0]), REF.upsample_nearest(xs[0], ups[0]))


@given(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 9), st.integers(1, 9),
       st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.sampled_from(ACTS), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_conv_transpose2d_matches_twin(n, c, o, h, w, k, s, p, act, nhwc, seed):
    p = min(p, (k - 1) // 2 if k > 1 else 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((c, o, k, k)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    got = NB.conv_transpose2d(_nhwc(x) if nhwc else x, NB.pack_conv_transpose(wt), wt.shape, b, (s, s), (p, p), act)
    want = REF.conv_transpose2d(x, REF.pack_conv_transpose(wt), wt.shape, b, (s, s), (p, p), act)
    assert got.shape == want.shape == (n, o, (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k)
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@given(st.integers(1, 2), st.integers(1, 6), st.integers(1, 9), st.integers(1, 9), st.sampled_from(ACTS),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_affine_act_and_pool_match_twins(n, c, h, w, act, nhwc, seed):
    rng = np.random.default_rng(seed)
    x = (4 * rng.standard_normal((n, c, h, w))).astype(np.float32)
    xin = _nhwc(x) if nhwc else x
    scale, shift = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    np.testing.assert_allclose(NB.affine(xin, scale, shift), REF.affine(x, scale, shift), rtol=KERNEL_RTOL,
                               atol=KERNEL_ATOL)
    atol = GRAPH_SIGMOID_ATOL if act == "sigmoid" else KERNEL_ATOL
    np.testing.assert_allclose(NB.act(xin, act), REF.act(x, act), rtol=KERNEL_RTOL, atol=atol)
    np.testing.assert_allclose(NB.global_avg_pool(xin), REF.global_avg_pool(x), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


def test_sigmoid_saturates_without_nan():
    x = np.array([[[[-1e4, -100.0, 0.0, 100.0, 1e4]]]], np.float32)
    for k in (NB, REF):
        y = k.act(x, "sigmoid")
        assert np.all(np.isfinite(y)) and y[0, 0, 0, 0] == 0.0 and y[0, 0, 0, -1] == 1.0 and y[0, 0, 0, 2] == 0.5


@given(up_inputs(True), st.sampled_from(ACTS), st.integers(0, 2**31 - 1))
def test_in_place_variants_match_twins(case, act, seed):
    # what a graph model runs when the input value dies at the layer (tinycrnn/graph.py: donate)
    xs, ups = case
    xs = [np.ascontiguousarray(x) for x in xs]
    ups[0] = (1, 1)
    xs[0] = np.random.default_rng(seed).standard_normal((xs[0].shape[0], xs[0].shape[1]) + tuple(
        s * u for s, u in zip(xs[1].shape[2:], ups[1]))).astype(np.float32)
    want = REF.add(xs, ups, act)
    x0 = xs[0].copy()
    got = NB.add([x0] + xs[1:], ups, act, out=x0)
    assert got is x0
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    c = xs[0].shape[1]
    scale, shift = np.linspace(-1, 1, c).astype(np.float32), np.linspace(0, 1, c).astype(np.float32)
    for k in (NB, REF):
        y = xs[0].copy()
        np.testing.assert_allclose(k.affine(y, scale, shift, out=y), REF.affine(xs[0], scale, shift),
                                   rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
        y = xs[0].copy()
        np.testing.assert_allclose(k.act(y, act, out=y), REF.act(xs[0], act), rtol=KERNEL_RTOL,
                                   atol=GRAPH_SIGMOID_ATOL + KERNEL_ATOL)


@given(st.integers(1, 2), st.integers(1, 6), st.integers(1, 4), st.integers(1, 9), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_se_residual_and_in_place_match_twin(n, c, r, hw, residual, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw + 1)).astype(np.float32)
    w1, b1 = rng.standard_normal((r, c)).astype(np.float32), rng.standard_normal(r).astype(np.float32)
    w2, b2 = rng.standard_normal((c, r)).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    want = REF.se(x, w1, b1, w2, b2, 0.2, 0.5, residual)
    if residual:
        np.testing.assert_allclose(want, x + REF.se(x, w1, b1, w2, b2, 0.2, 0.5), rtol=1e-6, atol=1e-6)
    y = x.copy()
    got = NB.se(y, w1, b1, w2, b2, 0.2, 0.5, residual, y)
    assert got is y
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    # NHWC memory in (a Winograd conv's output): NHWC memory out, same values
    got = NB.se(_nhwc(x), w1, b1, w2, b2, 0.2, 0.5, residual)
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    if c > 1 and hw > 1:
        assert got.transpose(0, 2, 3, 1).flags.c_contiguous


@given(up_inputs(False))
def test_concat_of_nhwc_inputs_is_nhwc_and_exact(case):
    xs, ups = case
    xs = [_nhwc(np.ascontiguousarray(x)) for x in xs]
    got = NB.concat(xs, ups)
    np.testing.assert_array_equal(got, REF.concat(xs, ups))
    if all(x.transpose(0, 2, 3, 1).flags.c_contiguous and not x.flags.c_contiguous for x in xs):
        assert got.transpose(0, 2, 3, 1).flags.c_contiguous


@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9),
       st.integers(1, 3), st.integers(1, 40), st.booleans(), st.sampled_from(ACTS), st.integers(0, 2**31 - 1))
def test_conv_transpose2d_in_row_bands_matches_twin(n, c, o, h, w, k, band, nhwc, act, seed):
    # the k == s path runs its GEMM one band of input rows at a time (DISJOINT_BAND_FLOATS); small bands here
    from tinycrnn.kernels import conv_transpose

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((c, o, k, k)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    old = conv_transpose.DISJOINT_BAND_FLOATS
    conv_transpose.DISJOINT_BAND_FLOATS = band
    try:
        got = NB.conv_transpose2d(_nhwc(x) if nhwc else x, NB.pack_conv_transpose(wt), wt.shape, b, (k, k), (0, 0), act)
    finally:
        conv_transpose.DISJOINT_BAND_FLOATS = old
    want = REF.conv_transpose2d(x, REF.pack_conv_transpose(wt), wt.shape, b, (k, k), (0, 0), act)
    atol = GRAPH_SIGMOID_ATOL + KERNEL_ATOL if act == "sigmoid" else KERNEL_ATOL
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=atol)


@given(st.integers(1, 2), st.integers(1, 9), st.integers(1, 9), st.integers(1, 7), st.integers(1, 8),
       st.sampled_from([(1, 1, 0), (3, 1, 1), (3, 2, 1), (3, 1, 0)]), st.booleans(), st.sampled_from(ACTS[:4]),
       st.integers(0, 2**31 - 1))
def test_conv_with_folded_affine_matches_twin(n, c, o, h, w, kind, depthwise, act, seed):
    # graph.fuse_affines: an affine after a conv runs in the conv's epilogue (pointwise) or in place after it
    k, s, p = kind
    h, w = h + max(0, k - 1 - 2 * p), w + max(0, k - 1 - 2 * p)  # at least one output pixel
    groups = c if depthwise and k > 1 else 1
    o = c if groups > 1 else o
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((o, c // groups, k, k)).astype(np.float32)
    b, scale, shift = (rng.standard_normal(o).astype(np.float32) for _ in range(3))
    got = NB.conv2d_affine(x, NB.pack_conv(wt, groups), b, (s, s), (p, p), groups, act, scale, shift)
    want = REF.conv2d_affine(x, wt, b, (s, s), (p, p), groups, act, scale, shift)
    np.testing.assert_allclose(got, want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
    sep = NB.affine(NB.conv2d(x, NB.pack_conv(wt, groups), b, (s, s), (p, p), groups, act), scale, shift)
    np.testing.assert_allclose(got, sep, rtol=1e-6, atol=1e-5)
