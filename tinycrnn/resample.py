"""Resampling of uint8 line images exactly as the reference frameworks do, the same on every CPU.

**Bilinear (OpenCV ``INTER_LINEAR``).** Both models' references resize lines with ``cv2.resize``, but
OpenCV's uint8 result depends on the platform: on aarch64 it differs by 1 on ~10% of pixels from x86
(same version, also with ``INTER_LINEAR_EXACT``), enough to move english_g2 confidences past the parity
tolerance. :func:`linear_resize` reproduces OpenCV's generic x86 fixed-point path bit for bit (equal to
``cv2.resize`` on x86 for 1 and 3 channels, any up/down scale; tests/test_resize.py) with integer pixel
arithmetic only, so it reads the same everywhere. Its coefficient tables come from NumPy's IEEE double
and float32 ops, each correctly rounded (the Numba kernel repeats them without fastmath), which no
platform changes. On x86 the Numba backend calls ``cv2.resize`` itself, the path the kernel reproduces (the
same bytes): a first run there skips the kernel's ~1.3 s compile, and a resize takes 27 us instead of 32 us
(sroie_lines crops, ``python -m benchmarks.resize_agreement --sets sroie_lines --pages sroie --latency 300``,
which also checks our kernel against OpenCV on every resize). :func:`kernel_resize` is the kernel itself: it
runs where OpenCV's bytes differ (aarch64); the NumPy twin runs under the NumPy backend.

**Bicubic (Pillow).** EasyOCR squeezes crops taller than wide through ``PIL.Image.resize(..., BICUBIC)``, an
antialiased (support scaled by the reduction factor), separable, fixed-point resampler. To read
those crops exactly as the reference does, this module reproduces it: same filter (a = -0.5),
same coefficient windows, same 22-bit fixed-point rounding and clipping, horizontal pass first.
"""
import math
import platform
from typing import Optional, Tuple

import numpy as np

#: Where ``cv2.resize(INTER_LINEAR)`` on uint8 is the fixed-point path :func:`linear_resize` reproduces
#: (tests/test_resize.py compares them on every CI run, on the newest and the oldest OpenCV declared).
CV2_IS_REFERENCE = platform.machine().lower() in ("x86_64", "amd64")

#: OpenCV's INTER_RESIZE_COEF_BITS: bilinear weights are integers out of 2048.
_LINEAR_ONE = 2048

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


def linear_coefficients(src: int, dst: int, clamp: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's bilinear taps for one axis: (dst,) int32 source indices i0, i1 and 11-bit weights w0, w1.

    As ``cv::resize``: ``f = float32((d + 0.5) * (1 / (dst / src)) - 0.5)`` in double, ``i0 = floor(f)``,
    weights ``rint((1 - frac) * 2048)`` and ``rint(frac * 2048)`` in float32. ``clamp`` (the horizontal
    axis) moves taps outside the image to the border with weights (2048, 0); the vertical axis keeps its
    weights and only clamps the row indices, which is what makes OpenCV's first and last rows differ by
    1 from a clamped interpolation.
    """
    scale = np.float64(1.0) / (np.float64(dst) / np.float64(src))
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f)
    frac = (f - i0).astype(np.float32)  # exact: a float32 minus its floor
    i0 = i0.astype(np.int64)
    if clamp:
        outside = (i0 < 0) | (i0 >= src - 1)
        frac[outside] = 0.0
        i0 = np.clip(i0, 0, src - 1)
    one = np.float32(_LINEAR_ONE)
    w0 = np.rint((np.float32(1.0) - frac) * one).astype(np.int32)
    w1 = np.rint(frac * one).astype(np.int32)
    i1 = np.clip(i0 + 1, 0, src - 1).astype(np.int32)
    return np.clip(i0, 0, src - 1).astype(np.int32), i1, w0, w1


def linear_resize(img: np.ndarray, width: int, height: int, backend: Optional[str] = None) -> np.ndarray:
    """Resize a uint8 (H, W) or (H, W, C) image to (height, width) as x86 ``cv2.resize(INTER_LINEAR)`` does.

    ``backend`` picks the Numba kernel (``cv2.resize`` itself on x86, :data:`CV2_IS_REFERENCE`) or its NumPy
    twin (None: :func:`~tinycrnn.config.kernel_backend`); all give the same bytes on every platform.
    """
    from .config import kernel_backend
    from .errors import InputTypeError

    if img.dtype != np.uint8 or img.ndim not in (2, 3) or min(img.shape) < 1 or width < 1 or height < 1:
        raise InputTypeError(f"linear_resize expects a non-empty uint8 (H, W[, C]) image and a size >= 1, "
                             f"got {img.dtype} {img.shape} -> {width}x{height}")
    backend = backend or kernel_backend()
    if backend == "numba" and CV2_IS_REFERENCE and img.shape[2:] in ((), (1,), (3,)):
        import cv2

        out = cv2.resize(np.ascontiguousarray(img), (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
        return out.reshape((int(height), int(width)) + img.shape[2:])
    return kernel_resize(img, width, height, backend)


def kernel_resize(img: np.ndarray, width: int, height: int, backend: str = "numba") -> np.ndarray:
    """:func:`linear_resize` through ``backend``'s own kernel (the Numba kernel or the NumPy twin), never
    ``cv2.resize``: what aarch64 runs, and what the tests and ``benchmarks/resize_agreement.py`` hold against
    OpenCV on x86. No argument checks."""
    from .kernels import get_kernels

    src = np.ascontiguousarray(img if img.ndim == 3 else img[:, :, None])
    out = get_kernels(backend).resize_linear(src, int(width), int(height))
    return out if img.ndim == 3 else out[:, :, 0]
