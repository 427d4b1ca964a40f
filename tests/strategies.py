"""Hypothesis strategies shared by the kernel tests."""
import numpy as np
from hypothesis import strategies as st


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans()) and groups == 1
    cg = draw(st.integers(1, 4))
    c = cg * groups
    o = groups * draw(st.integers(1, 5))
    if depthwise:
        c = o = groups = draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    h = draw(st.integers(max(1, kh - 2 * ph), 12))
    w = draw(st.integers(max(1, kw - 2 * pw), 20))
    n = draw(st.integers(1, 3))
    act = draw(st.sampled_from(["none", "relu", "hardswish", "hardsigmoid"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, (sh, sw), (ph, pw), groups, act


@st.composite
def winograd_cases(draw):
    """Stride 1, groups 1, >= 8 input channels, 3x3 pad 1 or 2x2 pad 0: the convs kernels/conv.py runs as Winograd."""
    k = draw(st.sampled_from([3, 2]))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(8, 40)), draw(st.integers(1, 70))
    h, w = draw(st.integers(1 if k == 3 else 2, 13)), draw(st.integers(1 if k == 3 else 2, 21))
    act = draw(st.sampled_from(["none", "relu", "hardswish"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((o, c, k, k)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, (1, 1) if k == 3 else (0, 0), act


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(kh, 12)), draw(st.integers(kw, 16))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    return rng.standard_normal((n, c, h, w)).astype(np.float32), (kh, kw), (sh, sw), (ph, pw)


@st.composite
def lstm_cases(draw):
    n, t, i, h = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 10)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))

    def direction():
        return (
            (rng.standard_normal((4 * h, i)) * 0.5).astype(np.float32),
            (rng.standard_normal((4 * h, h)) * 0.5).astype(np.float32),
            (rng.standard_normal(4 * h) * 0.5).astype(np.float32),
        )

    return rng.standard_normal((n, t, i)).astype(np.float32), direction(), direction()


@st.composite
def int8_conv_cases(draw):
    """uint8 activations and int8 weights for the int8 conv (groups == 1), any stride and padding."""
    c, o = draw(st.integers(1, 9)), draw(st.integers(1, 40))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    h = draw(st.integers(max(1, kh - 2 * ph), 10))
    w = draw(st.integers(max(1, kw - 2 * pw), 21))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x_q = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    w_q = rng.integers(-127, 128, (o, c, kh, kw), dtype=np.int8)
    return x_q, w_q, (sh, sw), (ph, pw)


@st.composite
def int8_linear_cases(draw):
    n, t, i, o = draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 37)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = (rng.standard_normal((n, t, i)) * rng.uniform(0.01, 10)).astype(np.float32)
    if draw(st.booleans()):
        x[0] = 0.0  # an all-zero line: zero scale, guarded
    w_q = rng.integers(-127, 128, (o, i), dtype=np.int8)
    w_scale = (rng.random(o) * 0.02).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32) if draw(st.booleans()) else None
    return x, w_q, w_scale, bias


@st.composite
def int8_lstm_cases(draw):
    """An int8 bidirectional LSTM: up to 9 lines (so the 1/2/4/8-row recurrence tiles all run)."""
    from tinycrnn.quant import quantize_rows

    n, t, i, h = draw(st.integers(1, 9)), draw(st.integers(1, 10)), draw(st.integers(1, 12)), draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))

    def direction():
        w_ih_q, w_ih_scale = quantize_rows((rng.standard_normal((4 * h, i)) * 0.5).astype(np.float32))
        w_hh_q, w_hh_scale = quantize_rows((rng.standard_normal((4 * h, h)) * 0.5).astype(np.float32))
        return w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, (rng.standard_normal(4 * h) * 0.5).astype(np.float32)

    return rng.standard_normal((n, t, i)).astype(np.float32), direction(), direction()
