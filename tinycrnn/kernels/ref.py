"""Plain-NumPy reference twins of every kernel: slow, obvious, and the definition tests compare against.

Selected at run time with ``TINYCRNN_KERNELS=numpy``. No Numba here, ever.
"""
import numpy as np

ACTIVATIONS = ("none", "relu", "hardswish", "hardsigmoid")


def activate_ref(y: np.ndarray, act: str) -> np.ndarray:
    """Apply ``act`` elementwise, in place where possible; returns ``y``."""
    if act == "relu":
        np.maximum(y, 0.0, out=y)
    elif act == "hardswish":
        y *= np.clip(y + 3.0, 0.0, 6.0) / 6.0
    elif act == "hardsigmoid":
        y[...] = np.clip(y / 6.0 + 0.5, 0.0, 1.0)
    return y


def conv2d_ref(
    x: np.ndarray,  # (N, C, H, W) float32
    weight: np.ndarray,  # (O, C/groups, kh, kw) float32
    bias,  # (O,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    groups: int = 1,
    act: str = "none",
) -> np.ndarray:  # (N, O, Ho, Wo) float32
    """Cross-correlation with zero padding (PyTorch ``Conv2d`` semantics), then bias and activation."""
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    sh, sw = stride
    ph, pw = pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    og = o // groups
    out = np.empty((n, o, ho, wo), dtype=np.float32)
    for g in range(groups):
        wg = weight[g * og : (g + 1) * og].reshape(og, cg * kh * kw)
        # (N, Ho, Wo, Cg, kh, kw) -> (N*Ho*Wo, Cg*kh*kw)
        cols = win[:, g * cg : (g + 1) * cg].transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, cg * kh * kw)
        out[:, g * og : (g + 1) * og] = (cols @ wg.T).reshape(n, ho, wo, og).transpose(0, 3, 1, 2)
    if bias is not None:
        out += bias.reshape(1, o, 1, 1)
    return activate_ref(out, act)


def maxpool2d_ref(x: np.ndarray, kernel=(2, 2), stride=(2, 2), pad=(0, 0)) -> np.ndarray:
    """Max pooling, floor mode, padding with -inf (PyTorch ``MaxPool2d`` semantics)."""
    kh, kw = kernel
    sh, sw = stride
    ph, pw = pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) if ph or pw else x
    ho = (xp.shape[2] - kh) // sh + 1
    wo = (xp.shape[3] - kw) // sw + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    return np.ascontiguousarray(win.max(axis=(4, 5)), dtype=np.float32)


def mean_height_ref(x: np.ndarray) -> np.ndarray:  # (N, C, H, W) -> (N, W, C)
    """Mean over the height axis, channels last: the CNN-to-sequence bridge."""
    return np.ascontiguousarray(x.mean(axis=2, dtype=np.float32).transpose(0, 2, 1))


def linear_ref(x: np.ndarray, weight: np.ndarray, bias, act: str = "none") -> np.ndarray:
    """``x @ weight.T + bias`` over the last axis (weight stored ``(out, in)``), then activation."""
    y = np.matmul(x, weight.T).astype(np.float32, copy=False)
    if bias is not None:
        y += bias
    return activate_ref(y, act)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_direction_ref(
    x: np.ndarray,  # (N, T, I) float32
    w_ih: np.ndarray,  # (4H, I) float32, gate rows i, f, g, o
    w_hh: np.ndarray,  # (4H, H) float32
    b: np.ndarray,  # (4H,) float32, b_ih + b_hh
    reverse: bool,
) -> np.ndarray:  # (N, T, H) float32
    """One LSTM direction with zero initial state; the reverse direction stores step t's state at t."""
    n, t_len, _ = x.shape
    hid = w_hh.shape[1]
    xw = x @ w_ih.T + b
    h = np.zeros((n, hid), np.float32)
    c = np.zeros((n, hid), np.float32)
    out = np.empty((n, t_len, hid), np.float32)
    steps = range(t_len - 1, -1, -1) if reverse else range(t_len)
    for t in steps:
        z = xw[:, t] + h @ w_hh.T
        i = _sigmoid(z[:, :hid])
        f = _sigmoid(z[:, hid : 2 * hid])
        g = np.tanh(z[:, 2 * hid : 3 * hid])
        o = _sigmoid(z[:, 3 * hid :])
        c = f * c + i * g
        h = (o * np.tanh(c)).astype(np.float32)
        out[:, t] = h
    return out


def bilstm_ref(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) -> (N, T, 2H)
    """Bidirectional LSTM: ``[h_fwd(t), h_bwd(t)]``; ``fwd``/``bwd`` are ``(w_ih, w_hh, b)`` triples."""
    return np.concatenate([lstm_direction_ref(x, *fwd, reverse=False), lstm_direction_ref(x, *bwd, reverse=True)], axis=2)


def se_ref(
    x: np.ndarray,  # (N, C, H, W) float32
    w1: np.ndarray,  # (R, C) float32
    b1: np.ndarray,  # (R,) float32
    w2: np.ndarray,  # (C, R) float32
    b2: np.ndarray,  # (C,) float32
    alpha: float = 1.0 / 6.0,
    beta: float = 0.5,
    residual: bool = False,
    out=None,
    pad_sum=None,  # (C,): per-channel sum of pad_n / H virtual columns, counted in the mean only
    pad_n: int = 0,
) -> np.ndarray:  # (N, C, H, W) float32
    """Squeeze-and-excitation: ``x * hardsigmoid(w2 @ relu(w1 @ mean_hw(x) + b1) + b2)`` per channel;
    ``residual``: plus ``x``; with ``pad_sum``/``pad_n`` the mean also counts virtual columns."""
    if pad_sum is None:
        pooled = x.mean(axis=(2, 3), dtype=np.float32)  # (N, C)
    else:
        n_el = x.shape[2] * x.shape[3] + pad_n
        pooled = ((x.sum(axis=(2, 3), dtype=np.float64) + np.asarray(pad_sum, np.float64)) / n_el).astype(np.float32)
    hid = np.maximum(pooled @ w1.T + b1, 0.0)
    gate = np.clip(np.float32(alpha) * (hid @ w2.T + b2) + np.float32(beta), 0.0, 1.0).astype(np.float32)
    y = (x + x * gate[:, :, None, None] if residual else x * gate[:, :, None, None]).astype(np.float32)
    if out is None:
        return y
    out[...] = y
    return out


def softmax_ref(x: np.ndarray, out=None) -> np.ndarray:  # (..., K) float32 -> (..., K) float32
    """Softmax over the last axis, max-subtracted, in float32 (into ``out`` when given; may be ``x``)."""
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    y = (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)
    if out is None:
        return y
    out[...] = y
    return out


# ---- int8 twins (quant_version 1; conventions in tinycrnn/quant.py) --------------------------


def conv2d_int8_acc_ref(
    x_q: np.ndarray,  # (N, C, H, W) uint8
    w_q: np.ndarray,  # (O, C, kh, kw) int8
    stride=(1, 1),
    pad=(0, 0),
) -> np.ndarray:  # (N, O, Ho, Wo) int32
    """Integer convolution with zero padding: the exact int32 accumulators the kernel must reproduce."""
    n, c, h, w = x_q.shape
    o, _, kh, kw = w_q.shape
    sh, sw = stride
    ph, pw = pad
    xp = np.pad(x_q.astype(np.int32), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :ho, :wo]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    acc = cols @ w_q.reshape(o, -1).astype(np.int32).T
    return np.ascontiguousarray(acc.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), dtype=np.int32)


def conv2d_int8_ref(
    x: np.ndarray,  # (N, C, H, W) float32, >= 0 (post-ReLU)
    w_q: np.ndarray,  # (O, C, kh, kw) int8
    w_scale: np.ndarray,  # (O,) float32
    bias,  # (O,) float32 or None
    stride=(1, 1),
    pad=(0, 0),
    act: str = "none",
) -> np.ndarray:  # (N, O, Ho, Wo) float32
    """Dynamic per-line uint8 activations (zero-point 0, ``s_n = max(x[n]) / 255``) x int8 weights
    -> int32 ``acc``, then ``acc * (s_n * w_scale[o]) + bias[o]`` and ``act``."""
    from ..quant import UMAX, dynamic_uscale_rows, quantize

    s = dynamic_uscale_rows(x)
    x_q = np.stack([quantize(x[i], s[i], 0, UMAX, np.uint8) for i in range(x.shape[0])])
    acc = conv2d_int8_acc_ref(x_q, w_q, stride, pad)
    y = acc.astype(np.float32) * (s[:, None] * w_scale[None, :])[:, :, None, None]
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return activate_ref(y, act)


def pointwise_int8_ref(
    x: np.ndarray,  # (N, C, H, W) float32, any sign
    w_q: np.ndarray,  # (O, C, 1, 1) int8
    w_scale: np.ndarray,  # (O,) float32
    bias,  # (O,) float32 or None
    act: str = "none",
) -> np.ndarray:  # (N, O, H, W) float32
    """1x1 stride-1 conv, dynamic symmetric int8 input with one scale per pixel (``s[n, p] =
    max_c |x[n, c, p]| / 127``) x int8 weights -> int32 ``acc``, then ``acc * (s[n, p] * w_scale[o])
    + bias[o]`` and ``act``."""
    from ..quant import QMAX, inv_scale

    n, c, h, w = x.shape
    xp = x.reshape(n, c, h * w)
    s = (np.abs(xp).max(axis=1) / np.float32(QMAX)).astype(np.float32)  # (N, P)
    inv = np.vectorize(inv_scale, otypes=[np.float32])(s)
    x_q = np.clip(np.rint(xp * inv[:, None, :]), -QMAX, QMAX).astype(np.int8)
    acc = np.einsum("oc,ncp->nop", w_q.reshape(w_q.shape[0], c).astype(np.int64),
                    x_q.reshape(n, c, h * w).astype(np.int64)).astype(np.int32)
    y = acc.astype(np.float32) * (s[:, None, :] * w_scale[None, :, None])
    if bias is not None:
        y += bias.reshape(1, -1, 1)
    return activate_ref(y.reshape(n, -1, h, w), act)


def quantize_lines_ref(x: np.ndarray):  # (N, ...) float32 -> ((N, ...) int8, (N,) float32 scale)
    """Dynamic per-line symmetric int8: one scale per batch item, so a line never depends on its batch."""
    from ..quant import dynamic_scale_rows, quantize

    s = dynamic_scale_rows(x)
    return np.stack([quantize(x[i], s[i]) for i in range(x.shape[0])]), s


def linear_int8_ref(
    x: np.ndarray,  # (N, T, I) float32
    w_q: np.ndarray,  # (O, I) int8
    w_scale: np.ndarray,  # (O,) float32
    bias,  # (O,) float32 or None
    act: str = "none",
) -> np.ndarray:  # (N, T, O) float32
    """Dynamic per-line int8 input x int8 weights -> int32 ``acc``; ``y = acc * (s_line * w_scale[o]) + bias``."""
    x_q, s = quantize_lines_ref(x)
    acc = x_q.astype(np.int32) @ w_q.astype(np.int32).T  # (N, T, O) int32
    y = acc.astype(np.float32) * (s[:, None, None] * w_scale[None, None, :])
    if bias is not None:
        y += bias
    return activate_ref(y, act)


# Eigen's rational tanh (float32 coefficients), the gate nonlinearity of the int8 LSTM: the
# Numba kernel evaluates the same float32 operations in the same order without fastmath, so the
# whole int8 LSTM (h quantisation included) is reproducible, not just its accumulators.
_TANH_P = tuple(np.float32(v) for v in (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                                        5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                                        4.89352455891786e-03))
_TANH_Q = tuple(np.float32(v) for v in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                                        4.89352518554385e-03))
_TANH_CLAMP = np.float32(7.90531110763549805)


def tanh_rational_ref(x: np.ndarray) -> np.ndarray:  # float32 -> float32, |error| < 4e-7
    """``tanh`` as the clamped odd rational p(x)/q(x) (what ``kernels.activations._tanh`` computes)."""
    x = np.clip(x.astype(np.float32), -_TANH_CLAMP, _TANH_CLAMP)
    x2 = x * x
    p = x2 * _TANH_P[0] + _TANH_P[1]
    for a in _TANH_P[2:]:
        p = p * x2 + a
    q = x2 * _TANH_Q[0] + _TANH_Q[1]
    for b in _TANH_Q[2:]:
        q = q * x2 + b
    return x * p / q


def sigmoid_rational_ref(x: np.ndarray) -> np.ndarray:  # float32 -> float32
    """``sigmoid(x) = 0.5 + 0.5 * tanh(0.5 * x)`` on :func:`tanh_rational_ref`."""
    half = np.float32(0.5)
    return half + half * tanh_rational_ref(half * x)


def lstm_direction_int8_ref(
    x: np.ndarray,  # (N, T, I) float32
    w_ih_q: np.ndarray,  # (4H, I) int8
    w_ih_scale: np.ndarray,  # (4H,) float32
    w_hh_q: np.ndarray,  # (4H, H) int8
    w_hh_scale: np.ndarray,  # (4H,) float32
    b: np.ndarray,  # (4H,) float32
    reverse: bool,
) -> np.ndarray:  # (N, T, H) float32
    """LSTM with int8 matrices: input projection as :func:`linear_int8_ref`; recurrent product on
    ``h_q = rint(h * 127)`` (h lies in (-1, 1)): ``z += acc * (w_hh_scale / 127)``; gates through
    :func:`sigmoid_rational_ref` / :func:`tanh_rational_ref`."""
    from ..quant import H_QSCALE, QMAX, round_half_even

    n, t_len, _ = x.shape
    hid = w_hh_q.shape[1]
    xw = linear_int8_ref(x, w_ih_q, w_ih_scale, b)
    hs = (w_hh_scale * H_QSCALE).astype(np.float32)
    whh = w_hh_q.astype(np.int32)
    h = np.zeros((n, hid), np.float32)
    c = np.zeros((n, hid), np.float32)
    out = np.empty((n, t_len, hid), np.float32)
    steps = range(t_len - 1, -1, -1) if reverse else range(t_len)
    for t in steps:
        h_q = np.clip(round_half_even(h * np.float32(QMAX)), -QMAX, QMAX).astype(np.int32)
        z = xw[:, t] + (h_q @ whh.T).astype(np.float32) * hs
        c = sigmoid_rational_ref(z[:, hid : 2 * hid]) * c + sigmoid_rational_ref(z[:, :hid]) * tanh_rational_ref(z[:, 2 * hid : 3 * hid])
        h = sigmoid_rational_ref(z[:, 3 * hid :]) * tanh_rational_ref(c)
        out[:, t] = h
    return out


def bilstm_int8_ref(x: np.ndarray, fwd, bwd) -> np.ndarray:  # (N, T, I) -> (N, T, 2H)
    """Bidirectional int8 LSTM; ``fwd``/``bwd`` are ``(w_ih_q, w_ih_scale, w_hh_q, w_hh_scale, b)``."""
    return np.concatenate(
        [lstm_direction_int8_ref(x, *fwd, reverse=False), lstm_direction_int8_ref(x, *bwd, reverse=True)], axis=2
    )


def resize_linear_ref(img: np.ndarray, width: int, height: int) -> np.ndarray:  # (H, W, C) u8 -> (h, w, C) u8
    """OpenCV's fixed-point bilinear: tables from ``resample.linear_coefficients``, each row
    ``r = a0 * p[x0] + a1 * p[x1]`` (weights out of 2048), then per output row
    ``((b0 * (r[y0] >> 4)) >> 16 + (b1 * (r[y1] >> 4)) >> 16 + 2) >> 2``, all in integers."""
    from ..resample import linear_coefficients

    x0, x1, a0, a1 = (t.astype(np.int64) for t in linear_coefficients(img.shape[1], width, clamp=True))
    y0, y1, b0, b1 = (t.astype(np.int64) for t in linear_coefficients(img.shape[0], height, clamp=False))
    p = img.astype(np.int64)
    r = p[:, x0] * a0[None, :, None] + p[:, x1] * a1[None, :, None]  # (H, w, C)
    top = (b0[:, None, None] * (r[y0] >> 4)) >> 16
    bottom = (b1[:, None, None] * (r[y1] >> 4)) >> 16
    # NOTE: at most (1020 + 2) >> 2 = 255 even when a pair of rounded weights sums to 2049: no clipping
    return ((top + bottom + 2) >> 2).astype(np.uint8)
