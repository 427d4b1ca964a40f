"""The int8 pass of the converter: (tensors, manifest) of an FP32 model -> the same model with
int8 matrices and calibrated activation scales (quant_version 1, conventions in ``tinycrnn.quant``).

Generic over the layer list, not over a named model: every ``conv2d`` (groups == 1) whose input
is non-negative by construction (it follows a ReLU, through max-pools only) gets int8 weights per
output channel and, at run time, uint8 inputs with a dynamic per-line scale; every ``bilstm``
gets int8 ``w_ih``/``w_hh`` per gate row; every ``linear`` int8 weights per output row (dynamic
per-line int8 inputs). Biases, scales and every 1-D tensor stay float32. A conv whose input can
be negative (the first conv on a [-1, 1] image) stays FP32: it is the cheapest layer.

NOTE: conv activations are *dynamic* per line, not static calibrated scales, by measurement on
icdar2015 dev (greedy texts identical to FP32): static max-calibrated 80.3%, static MSE-optimal
clip 83.0%, dynamic max per line 90.4%; the extra max pass costs ~2% of the int8 forward time
(benchmarks/RESULTS.md). Calibration images still run through the FP32 model to confirm every
quantised conv input is non-negative and, optionally, for bias correction. Conversion-time code
only: ``import tinycrnn`` never imports it.
"""
import glob
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..modelfile import QUANT_VERSION, ModelFile
from ..quant import QMAX, dequantize, quantize, quantize_rows

#: Words the built-in calibration set renders (digits, punctuation, mixed case, long and short).
_WORDS = (
    "Hello World", "TOTAL 12.50", "invoice no: 2019-0042", "The quick brown fox", "jumps over the lazy dog",
    "SALE", "Qty 3 @ $4.99", "www.example.com", "Tel: +60 3-1234 5678", "CASH", "Thank you!", "GST 6%",
    "Street", "OPEN 24 HOURS", "Jl. Merdeka No. 17", "abcdefghijklm", "NOPQRSTUVWXYZ", "0123456789",
    "(JM0352019-K)", "Subtotal: 88.00", "Change due 1.50", "EXIT", "Parking", "Hotel", "Coffee & Tea",
)


def builtin_calibration_images(count: int = 96, seed: int = 0) -> List[np.ndarray]:
    """Grayscale uint8 text lines rendered with OpenCV's Hershey fonts at several sizes, weights,
    polarities, blurs and noise levels: a data-free calibration set (deterministic for ``seed``)."""
    import cv2

    rng = np.random.default_rng(seed)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
             cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL)
    images = []
    for i in range(count):
        text = _WORDS[i % len(_WORDS)]
        font = fonts[i % len(fonts)]
        scale = float(rng.uniform(0.6, 2.0))
        thick = int(rng.integers(1, 4))
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
        pad = int(rng.integers(2, 12))
        h, w = th + base + 2 * pad, tw + 2 * pad
        bg, fg = (int(rng.integers(150, 256)), int(rng.integers(0, 100)))
        if rng.random() < 0.25:
            bg, fg = fg, bg
        img = np.full((h, w), bg, np.uint8)
        cv2.putText(img, text, (pad, pad + th), font, scale, fg, thick, cv2.LINE_AA)
        if rng.random() < 0.3:
            img = cv2.GaussianBlur(img, (3, 3), float(rng.uniform(0.3, 1.2)))
        if rng.random() < 0.3:
            img = np.clip(img + rng.normal(0, rng.uniform(2, 12), img.shape), 0, 255).astype(np.uint8)
        images.append(img)
    return images


def calibration_images(directory: Optional[str], limit: int = 500) -> Tuple[List[np.ndarray], str]:
    """Images for calibration: up to ``limit`` image files from ``directory`` (sorted, recursive),
    or the built-in rendered lines when ``directory`` is None. Returns ``(images, description)``."""
    if directory is None:
        imgs = builtin_calibration_images()
        return imgs, f"builtin: {len(imgs)} lines rendered with cv2.putText"
    import cv2

    files = sorted(f for ext in ("png", "jpg", "jpeg", "bmp") for f in glob.glob(os.path.join(directory, "**", f"*.{ext}"), recursive=True))
    imgs = [im for im in (cv2.imread(f, cv2.IMREAD_COLOR) for f in files[:limit]) if im is not None]
    if not imgs:
        from ..errors import TinyCRNNError

        raise TinyCRNNError(f"--calibration {directory}: no readable .png/.jpg/.bmp images found")
    return imgs, f"{os.path.basename(os.path.normpath(directory))}: {len(imgs)} images"


def _patches(y: np.ndarray, spec: Dict[str, Any]) -> np.ndarray:
    """im2col of one NCHW batch for a conv ``spec``: (positions, C*kh*kw), column order (c, kh, kw)."""
    kh, kw = _pair(spec["k"])
    (sh, sw), (ph, pw) = _pair(spec.get("s", 1)), _pair(spec.get("p", 0))
    yp = np.pad(y, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(yp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, y.shape[1] * kh * kw)


def _lstm_hidden_inputs(x: np.ndarray, w_ih, w_hh, b, reverse: bool) -> np.ndarray:
    """The h_{t-1} vectors one LSTM direction multiplies by ``w_hh`` on input ``x (B, T, I)``: (B*T, H)."""
    hdim = w_hh.shape[1]
    gx = x @ w_ih.T + b
    h = np.zeros((x.shape[0], hdim), np.float32)
    c = np.zeros_like(h)
    seen = []
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for t in steps:
        seen.append(h)
        g = gx[:, t] + h @ w_hh.T
        i, f, gg, o = (g[:, k * hdim:(k + 1) * hdim] for k in range(4))
        c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(gg)
        h = (1 / (1 + np.exp(-o)) * np.tanh(c)).astype(np.float32)
    return np.concatenate(seen)


def _calibrate(tensors, manifest, images, hessians: Sequence[str] = ()) -> Dict[str, Dict[str, Any]]:
    """Run the FP32 model on ``images`` and record, for each named op's input: min, max and the
    mean per channel (axis 1 of images, last axis of sequences); for the op kinds in ``hessians``, the
    second moments ``sum x x^T`` of the rows each weight matrix multiplies (``"h"``, and for a
    bilstm ``"h_hh_fwd"`` / ``"h_hh_bwd"`` of the recurrent inputs) for GPTQ."""
    from ..engine import Model
    from ..image_io import load_image
    from ..preprocess import LineSpec, prepare_lines

    model = Model(ModelFile(path="<calibration>", manifest=manifest, tensors=tensors), backend="numba")
    spec = LineSpec.from_manifest(manifest)
    layer_specs = {l.get("name"): l for l in manifest["arch"]["layers"]}
    stats: Dict[str, Dict[str, Any]] = {}

    def add(s, key, rows):
        rows = rows.astype(np.float64)
        s[key] = s.get(key, 0.0) + rows.T @ rows

    for img in images:
        y = prepare_lines([load_image(img, spec.color)], spec)
        for op in model.ops:
            if op.kind in ("conv2d", "linear", "bilstm"):
                s = stats.setdefault(op.name, {"min": np.inf, "max": -np.inf, "sum": 0.0, "count": 0})
                # NOTE: grouped (depthwise) convs are never quantised: no second moments for them
                # (a 256-channel 5x5 depthwise conv's would be 6400 x 6400 from full-size patches)
                if op.kind in hessians and getattr(op, "groups", 1) == 1:
                    if op.kind == "conv2d":
                        add(s, "h", _patches(y, layer_specs[op.name]))
                    else:
                        add(s, "h", y.reshape(-1, y.shape[-1]))
                    if op.kind == "bilstm":
                        for d in ("fwd", "bwd"):
                            t = [np.asarray(tensors[f"{op.name}.{d}.{k}"], np.float32) for k in ("w_ih", "w_hh", "b")]
                            add(s, f"h_hh_{d}", _lstm_hidden_inputs(y, *t, reverse=d == "bwd"))
                s["min"], s["max"] = min(s["min"], float(y.min())), max(s["max"], float(y.max()))
                per_c = np.moveaxis(y, 1 if y.ndim == 4 else -1, 0).reshape(y.shape[1 if y.ndim == 4 else -1], -1)
                s["sum"] = s["sum"] + per_c.sum(axis=1, dtype=np.float64)
                s["count"] += per_c.shape[1]
            y = op(y)
    for s in stats.values():
        s["mean"] = (s.pop("sum") / max(s.pop("count"), 1)).astype(np.float32)
    return stats


#: Weight rounding methods of the converter (``--weight-rounding``); all produce the same file format.
WEIGHT_ROUNDING = ("nearest", "mse", "gptq", "gptq_conv")
#: The op kinds whose matrices get GPTQ under each rounding method (the others get ``"mse"``).
_GPTQ_KINDS = {"gptq": ("conv2d", "linear", "bilstm"), "gptq_conv": ("conv2d",)}


def mse_scale_rows(w: np.ndarray, grid: int = 64, lo: float = 0.5) -> np.ndarray:
    """Per-row scale minimising ``||dq(q(w)) - w||^2`` over clip ratios ``linspace(lo, 1, grid)`` of
    ``max|row| / 127`` (ratio 1 is always a candidate, so the error never exceeds round-to-nearest's)."""
    flat = np.asarray(w, np.float32).reshape(w.shape[0], -1)
    base = (np.abs(flat).max(axis=1) / np.float32(QMAX)).astype(np.float32)
    best, best_err = base.copy(), np.full(len(flat), np.inf)
    for r in np.linspace(1.0, lo, grid, dtype=np.float32):
        s = (base * r).astype(np.float32)
        inv = np.where(s > 0, 1.0 / np.where(s > 0, s, 1), 0).astype(np.float32)
        q = np.clip(np.rint(flat * inv[:, None]), -QMAX, QMAX)
        err = ((q * s[:, None] - flat) ** 2).sum(axis=1)
        better = err < best_err
        best[better], best_err[better] = s[better], err[better]
    return best


def gptq_rows(w: np.ndarray, scale: np.ndarray, hessian: np.ndarray, damp: float = 0.01) -> np.ndarray:
    """GPTQ (Frantar et al. 2022) on fixed per-row scales: quantise ``w`` (rows, K) column by column
    (round half even), spreading each column's rounding error over the not-yet-quantised columns so
    that ``||(dq(w_q) - w) x||^2`` summed over calibration inputs ``x`` (``hessian = sum x x^T``, (K, K))
    is small, instead of ``||dq(w_q) - w||^2``. Returns int8 ``w_q`` (rows, K)."""
    w = np.asarray(w, np.float64).copy()
    h = np.asarray(hessian, np.float64).copy()
    dead = np.diag(h) <= 0  # inputs never seen non-zero: rounded to nearest, no error feedback
    h[dead, dead] = 1.0  # (not zeroed as in the paper: a channel dead on calibration lines may fire on real ones)
    h[np.diag_indices_from(h)] += damp * float(np.mean(np.diag(h)))
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper Cholesky factor of H^-1
    s = np.asarray(scale, np.float64)
    inv = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    q = np.zeros(w.shape, np.int8)
    for i in range(w.shape[1]):
        qi = np.clip(np.rint(w[:, i] * inv), -QMAX, QMAX)
        q[:, i] = qi
        err = (w[:, i] - qi * s) / u[i, i]
        w[:, i + 1:] -= np.outer(err, u[i, i + 1:])
    return q


def _bias_shift(w: np.ndarray, w_q: np.ndarray, w_scale: np.ndarray, mean_in: np.ndarray) -> np.ndarray:
    """Expected output shift caused by weight rounding, ``sum_k (dq(w_q) - w)[o, k] * E[x_k]`` per output
    row (Nagel et al. 2019 bias correction); ``mean_in`` is the mean input per channel/feature."""
    d = dequantize(w_q, w_scale.reshape((-1,) + (1,) * (w.ndim - 1))) - w
    d = d.reshape(d.shape[0], mean_in.shape[0], -1).sum(axis=2)
    return (d.astype(np.float64) @ mean_in.astype(np.float64)).astype(np.float32)


def _quant_error(w: np.ndarray, w_q: np.ndarray, scale: np.ndarray) -> Tuple[float, float]:
    """``(||dq(w_q) - w|| / ||w||, max |dq(w_q) - w|)`` of one tensor (what the converter prints)."""
    d = dequantize(w_q, scale.reshape((-1,) + (1,) * (w.ndim - 1))) - w
    return float(np.linalg.norm(d) / max(float(np.linalg.norm(w)), 1e-30)), float(np.abs(d).max(initial=0.0))


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def quantize_model(
    tensors: Dict[str, np.ndarray],
    manifest: Dict[str, Any],
    images: Sequence[np.ndarray],
    source: str = "builtin",
    keep_fp32: Sequence[str] = (),
    bias_correction: bool = False,
    signed_pointwise: bool = False,
    weight_rounding: str = "nearest",
) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], List[Tuple[str, float]]]:
    """Quantise an FP32 model's matrices and calibrate its conv input scales.

    Args:
        tensors: the FP32 tensors (``{layer}.weight`` etc., see docs/FORMAT.md).
        manifest: the full FP32 manifest (arch, charset, preprocess, decode).
        images: calibration images (uint8 gray/BGR lines), see :func:`calibration_images`.
        source: a description of ``images`` recorded in the manifest.
        keep_fp32: layer names to leave in FP32 (sensitive layers).
        bias_correction: fold the mean output shift caused by weight rounding into the biases.
            Off by default: with the rendered calibration lines it changed no dev-set agreement
            figure by more than noise and flipped one reference text (r06_sign_musee).
        signed_pointwise: also quantise pointwise convs (1x1, stride 1, no padding, groups == 1)
            whose input may be negative (PP-OCR's follow HardSwish); they run with symmetric
            int8 inputs, one dynamic scale per pixel (``tinycrnn.ops.conv``). Off by default.
        weight_rounding: how each int8 matrix is chosen (same file format and run-time math for all):
            ``"nearest"``: scale ``max|row|/127``, round half even; ``"mse"``: per-row scale with the
            clip ratio that minimises the row's squared error, then round half even; ``"gptq"``: the
            ``"mse"`` scales, then GPTQ error feedback against the calibration inputs of each matrix
            (:func:`gptq_rows`); ``"gptq_conv"``: GPTQ for conv matrices, ``"mse"`` for LSTM and linear
            ones (on english_g2 the only variant within 0.3 points of FP32 on every dev set).

    Raises:
        TinyCRNNError: a conv that follows a ReLU saw a negative input on the calibration lines.

    Returns:
        ``(tensors, manifest, errors)``: the int8 model and ``(tensor name, relative RMSE, max abs
        error)`` per quantised tensor, worst relative RMSE first.
    """
    if weight_rounding not in WEIGHT_ROUNDING:
        from ..errors import TinyCRNNError

        raise TinyCRNNError(f"weight_rounding {weight_rounding!r} unknown; choose one of {', '.join(WEIGHT_ROUNDING)}")
    keep_fp32 = list(keep_fp32)
    known = {l.get("name") for l in manifest["arch"]["layers"]}
    unknown = [n for n in keep_fp32 if n not in known]
    if unknown:
        from ..errors import TinyCRNNError

        raise TinyCRNNError(f"keep FP32: no layer named {', '.join(unknown)}; layers: {', '.join(sorted(n for n in known if n))}")
    stats = _calibrate(tensors, manifest, images, hessians=_GPTQ_KINDS.get(weight_rounding, ()))
    out = dict(tensors)
    layers = []
    errors: List[Tuple[str, float, float]] = []

    def take(name):
        return np.asarray(out.pop(name), np.float32)

    def put_matrix(name, w, q_name, s_name, bias_name=None, mean_in=None, hessian=None):
        if weight_rounding == "nearest":
            w_q, w_scale = quantize_rows(w)
        else:
            w_scale = mse_scale_rows(w)
            flat = w.reshape(w.shape[0], -1)
            if hessian is not None:  # only collected for the kinds in _GPTQ_KINDS[weight_rounding]
                w_q = gptq_rows(flat, w_scale, hessian).reshape(w.shape)
            else:
                w_q = np.stack([quantize(r, sc) for r, sc in zip(flat, w_scale)]).reshape(w.shape)
        out[q_name], out[s_name] = w_q, w_scale
        errors.append((name,) + _quant_error(w, w_q, w_scale))
        if bias_correction and bias_name is not None and mean_in is not None:
            b = np.asarray(out.get(bias_name, np.zeros(w.shape[0], np.float32)), np.float32)
            out[bias_name] = (b - _bias_shift(w, w_q, w_scale, mean_in)).astype(np.float32)

    nonneg = False  # is the current layer's input >= 0 by construction?
    for spec in manifest["arch"]["layers"]:
        spec = dict(spec)
        op, name = spec["op"], spec.get("name")
        input_nonneg = nonneg
        if op in ("conv2d", "linear"):
            nonneg = spec.get("act", "none") in ("relu", "hardsigmoid")
        elif op not in ("maxpool2d", "mean_height"):
            nonneg = False
        if name in keep_fp32:
            pass
        elif (signed_pointwise and op == "conv2d" and spec.get("groups", 1) == 1
              and all(_pair(spec.get(key, dflt)) == want for key, dflt, want in
                      (("k", None, (1, 1)), ("s", 1, (1, 1)), ("p", 0, (0, 0))))):
            put_matrix(f"{name}.weight", take(f"{name}.weight"), f"{name}.w_q", f"{name}.w_scale", f"{name}.bias",
                       stats[name]["mean"], stats[name].get("h"))
            spec["quant"] = "int8"
        elif op == "conv2d" and spec.get("groups", 1) == 1 and input_nonneg:
            st = stats[name]
            if st["min"] < 0:
                from ..errors import TinyCRNNError

                raise TinyCRNNError(f"{name}: input follows a ReLU but was {st['min']} on calibration data")
            put_matrix(f"{name}.weight", take(f"{name}.weight"), f"{name}.w_q", f"{name}.w_scale", f"{name}.bias", st["mean"],
                       st.get("h"))
            spec["quant"] = "int8"
        elif op == "bilstm" and name in stats:
            for d in ("fwd", "bwd"):
                key = f"{name}.{d}.w_ih"
                put_matrix(key, take(key), f"{key}_q", f"{key}_scale", f"{name}.{d}.b", stats[name]["mean"],
                           stats[name].get("h"))
                key = f"{name}.{d}.w_hh"
                put_matrix(key, take(key), f"{key}_q", f"{key}_scale", hessian=stats[name].get(f"h_hh_{d}"))
            spec["quant"] = "int8"
        elif op == "linear" and name in stats:
            put_matrix(f"{name}.weight", take(f"{name}.weight"), f"{name}.w_q", f"{name}.w_scale", f"{name}.bias",
                       stats[name]["mean"], stats[name].get("h"))
            spec["quant"] = "int8"
        layers.append(spec)
    new = dict(manifest)
    new["arch"] = dict(manifest["arch"], layers=layers)
    errors.sort(key=lambda e: -e[1])
    new["quant"] = {
        "quant_version": QUANT_VERSION,
        "weights": "int8_sym_per_out_channel",
        "qmax": QMAX,
        "rounding": "half_even",
        "activations": {
            "conv": "uint8_zero_point_0_dynamic_per_line",
            **({"conv_pointwise": "int8_sym_dynamic_per_pixel"} if signed_pointwise else {}),
            "linear": "int8_sym_dynamic_per_line",
            "lstm_input": "int8_sym_dynamic_per_line",
            "lstm_hidden": "int8_fixed_scale_1/127",
        },
        "weight_rounding": weight_rounding,
        "fp32_layers": [n for n in keep_fp32],
        "calibration": {"use": "non-negativity check" + (", GPTQ input second moments" if weight_rounding in _GPTQ_KINDS else ""),
                        "bias_correction": bias_correction, "source": source},
        "worst_weight_error": {"tensor": errors[0][0], "rel_rmse": errors[0][1], "max_abs": errors[0][2]} if errors else None,
    }
    return out, new, errors
