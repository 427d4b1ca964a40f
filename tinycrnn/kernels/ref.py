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
