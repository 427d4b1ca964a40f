"""Pillow-compatible bicubic resampling of uint8 images, without Pillow.

EasyOCR squeezes crops taller than wide through ``PIL.Image.resize(..., BICUBIC)``, an
antialiased (support scaled by the reduction factor), separable, fixed-point resampler. To read
those crops exactly as the reference does, this module reproduces it: same filter (a = -0.5),
same coefficient windows, same 22-bit fixed-point rounding and clipping, horizontal pass first.
"""
import math

import numpy as np

_PRECISION_BITS = 32 - 8 - 2
_SUPPORT = 2.0


def _bicubic(x: np.ndarray) -> np.ndarray:
    a = -0.5
    x = np.abs(x)
    return np.where(
        x < 1.0,
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
        np.where(x < 2.0, (((x - 5.0) * x + 8.0) * x - 4.0) * a, 0.0),
    )


def _coefficients(in_size: int, out_size: int):
    """Per output pixel: first input index and fixed-point weights (out_size, ksize) int64."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    starts = np.zeros(out_size, np.int64)
    weights = np.zeros((out_size, ksize), np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = _bicubic((np.arange(xmax) + xmin - center + 0.5) / filterscale)
        total = w.sum()
        if total != 0.0:
            w = w / total
        starts[xx] = xmin
        weights[xx, :xmax] = w
    fixed = np.where(
        weights < 0,
        np.trunc(-0.5 + weights * (1 << _PRECISION_BITS)),
        np.trunc(0.5 + weights * (1 << _PRECISION_BITS)),
    ).astype(np.int64)
    return starts, fixed


def _pass(img: np.ndarray, out_size: int) -> np.ndarray:
    """Resample axis 1 of a (rows, cols) uint8 image to ``out_size`` columns."""
    in_size = img.shape[1]
    starts, fixed = _coefficients(in_size, out_size)
    ksize = fixed.shape[1]
    padded = np.zeros((img.shape[0], in_size + ksize), np.int64)
    padded[:, :in_size] = img
    idx = starts[:, None] + np.arange(ksize)[None, :]  # (out, ksize)
    acc = (padded[:, idx] * fixed[None]).sum(axis=2) + (1 << (_PRECISION_BITS - 1))
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def pil_bicubic_resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a uint8 gray (H, W) image to (height, width) exactly as Pillow's BICUBIC does."""
    out = img
    if width != img.shape[1]:
        out = _pass(out, width)
    if height != img.shape[0]:
        out = _pass(out.T, height).T
    return np.ascontiguousarray(out)
