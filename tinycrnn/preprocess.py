"""Line preprocessing driven by the model file's ``preprocess`` block: colour, resize, normalise, pad.

Each model states its own conventions (EasyOCR english_g2: gray, height 64, truncated
bilinear width, right-pad by repeating the last column, batch width ``ceil(max ratio) * 64``);
this module implements the named rules and nothing model-specific.
"""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .errors import ImageError, InputTypeError, WeightFormatError

#: A line longer than this many model heights is refused (page mode or tiling is the answer).
MAX_LINE_RATIO = 256

_WIDTH_RULES = ("ceil_ratio_x_height", "max_ratio_x_height")
_PADS = ("repeat_last_column", "constant")
_RESIZES = ("bilinear_trunc", "bilinear_ceil")


class LineSpec:
    """The parsed ``preprocess`` block of a manifest."""

    def __init__(self, block: Mapping[str, Any], channels: int):
        self.color = block.get("color", "gray")
        self.height = int(block.get("height", 0))
        self.resize = block.get("resize", "bilinear_trunc")
        self.width_rule = block.get("width_rule", "ceil_ratio_x_height")
        self.min_width = int(block.get("min_width", 0))
        self.width_multiple = int(block.get("width_multiple", 1))
        self.pad = block.get("pad", "repeat_last_column")
        self.pad_value = float(block.get("pad_value", 0.0))
        self.right_margin = int(block.get("right_margin", 0))
        self.scale = float(block.get("scale", 1.0 / 255.0))
        self.mean = float(block.get("mean", 0.5))
        self.std = float(block.get("std", 0.5))
        self.tall = block.get("tall", "stretch")
        problems = []
        if self.color not in ("gray", "bgr"):
            problems.append(f"color {self.color!r}")
        if (self.color == "gray") != (channels == 1) or channels not in (1, 3):
            problems.append(f"color {self.color!r} with {channels} input channels")
        if self.height < 1:
            problems.append(f"height {self.height}")
        if self.resize not in _RESIZES:
            problems.append(f"resize {self.resize!r}")
        if self.width_rule not in _WIDTH_RULES:
            problems.append(f"width_rule {self.width_rule!r}")
        if self.pad not in _PADS:
            problems.append(f"pad {self.pad!r}")
        if self.tall not in ("stretch", "easyocr"):
            problems.append(f"tall {self.tall!r}")
        if self.std == 0 or self.width_multiple < 1:
            problems.append("std 0 or width_multiple < 1")
        if problems:
            raise WeightFormatError(f"manifest.preprocess: unsupported {'; '.join(problems)}")
        self.channels = channels

    @classmethod
    def from_manifest(cls, manifest: Dict[str, Any]) -> "LineSpec":
        return cls(manifest["preprocess"], manifest["arch"]["input"]["channels"])


def to_model_color(img: np.ndarray, spec: LineSpec) -> np.ndarray:
    """uint8 gray (H, W) or BGR (H, W, 3) -> the model's colour layout."""
    import cv2

    if spec.color == "gray":
        return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def line_ratio(img: np.ndarray, spec: LineSpec) -> float:
    """The aspect ratio the width rule uses: w/h, or for EasyOCR-style tall crops max(w/h, h/w)."""
    h, w = img.shape[:2]
    if h < 1 or w < 1:
        raise ImageError(f"image is empty ({w}x{h} pixels)")
    ratio = w / float(h)
    if max(ratio, 1.0 / ratio) > MAX_LINE_RATIO:
        raise ImageError(
            f"line image is {w}x{h}: more than {MAX_LINE_RATIO} times longer than thick; split it or read it as a page"
        )
    return 1.0 / ratio if spec.tall == "easyocr" and ratio < 1.0 else ratio


def _resize_tall_easyocr(img: np.ndarray, height: int, backend: Optional[str]) -> np.ndarray:
    # EasyOCR turns a crop taller than wide into width `height` and a proportional height, then
    # squeezes that to `height` rows with Pillow's antialiased bicubic (reproduced in resample.py).
    from .resample import linear_resize, pil_bicubic_resize

    h, w = img.shape[:2]
    tall_h = int(height * (h / float(w)))
    stage1 = linear_resize(img, height, tall_h, backend)
    new_w = math.ceil(height * height / float(tall_h))
    if stage1.ndim == 2:
        return pil_bicubic_resize(stage1, new_w, height)
    return np.dstack([pil_bicubic_resize(stage1[:, :, i], new_w, height) for i in range(stage1.shape[2])])


def resize_line(img: np.ndarray, spec: LineSpec, backend: Optional[str] = None) -> np.ndarray:
    """Resize a uint8 line image to the model height keeping its aspect ratio; returns float32 (C, H, w)
    normalised as ``(u8 * scale - mean) / std``.

    The bilinear resize is :func:`~tinycrnn.resample.linear_resize` (x86 ``cv2.resize`` bit for bit, the
    same bytes on every CPU) on ``backend``'s kernels (None: :func:`~tinycrnn.config.kernel_backend`)."""
    from .resample import linear_resize

    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise InputTypeError(f"resize_line expects a uint8 (H, W) or (H, W, 3) image, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    line_ratio(img, spec)
    img = to_model_color(img, spec)
    if spec.tall == "easyocr" and w < h:
        resized = _resize_tall_easyocr(img, spec.height, backend)
    else:
        exact = spec.height * (w / float(h))
        new_w = max(1, math.ceil(exact) if spec.resize == "bilinear_ceil" else int(exact))
        resized = linear_resize(img, new_w, spec.height, backend)
    # NOTE: divide by 255 rather than multiply by 1/255: that is what the reference frameworks do,
    # and it makes the tensors bit-identical to theirs.
    x = resized.astype(np.float32) / np.float32(1.0 / spec.scale)
    x -= np.float32(spec.mean)
    x /= np.float32(spec.std)
    return x[None] if x.ndim == 2 else np.ascontiguousarray(x.transpose(2, 0, 1))


def target_width(ratios: Sequence[float], resized: Sequence[int], spec: LineSpec) -> int:
    """The common padded width for lines with these aspect ratios and resized widths."""
    if spec.width_rule == "ceil_ratio_x_height":
        w = math.ceil(max(max(ratios), 1.0)) * spec.height
    else:
        w = max(resized)
    w = max(w, max(resized) + spec.right_margin, spec.min_width)
    return -(-w // spec.width_multiple) * spec.width_multiple


def pad_lines(lines: Sequence[np.ndarray], width: int, spec: LineSpec) -> np.ndarray:
    """Stack resized lines (C, H, w_i) into float32 (B, C, H, width), padding on the right per ``spec.pad``."""
    c, h = lines[0].shape[:2]
    out = np.empty((len(lines), c, h, width), np.float32)
    for i, x in enumerate(lines):
        w = min(x.shape[2], width)
        out[i, :, :, :w] = x[:, :, :w]
        if w < width:
            out[i, :, :, w:] = x[:, :, w - 1 : w] if spec.pad == "repeat_last_column" else spec.pad_value
    return out


def prepare_lines(images: Sequence[np.ndarray], spec: LineSpec, backend: Optional[str] = None) -> np.ndarray:
    """Preprocess uint8 line images into one padded batch ``[B, C, H, W]`` sharing a common width.

    Args:
        images: uint8 gray (H, W) or BGR (H, W, 3) line crops.
        spec: the model's :class:`LineSpec`.
        backend: kernel backend of the resize (None: :func:`~tinycrnn.config.kernel_backend`).

    Returns:
        float32 ``[B, C, H, W]``, W chosen by the model's width rule over the whole batch.
    """
    if len(images) == 0:
        raise InputTypeError("prepare_lines needs at least one image")
    resized: List[np.ndarray] = [resize_line(img, spec, backend) for img in images]
    ratios = [line_ratio(img, spec) for img in images]
    width = target_width(ratios, [x.shape[2] for x in resized], spec)
    return pad_lines(resized, width, spec)
