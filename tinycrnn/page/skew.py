"""Page skew: the angle that levels a scanned page's text rows, and the rotation that applies it."""
import math
from typing import Optional, Tuple

import numpy as np

from .detect import ink_mask


def estimate_skew(gray: np.ndarray, max_angle: float = 15.0) -> float:
    """The rotation in degrees (counter-clockwise, as cv2.getRotationMatrix2D takes it) that levels the text rows.

    Maximises the sharpness (sum of squares) of the row-projection profile of ink pixels
    over a coarse-then-fine grid of angles.
    """
    import cv2

    H, W = gray.shape
    s = min(1.0, 1000.0 / max(H, W))
    small = cv2.resize(gray, (max(1, int(W * s)), max(1, int(H * s))), interpolation=cv2.INTER_AREA) if s < 1 else gray
    if int(small.max()) - int(small.min()) < 16:
        return 0.0
    mask = ink_mask(small, 31, 12.0)
    ys, xs = np.nonzero(mask)
    if ys.size < 50:
        return 0.0
    if ys.size > 40000:
        sel = np.random.default_rng(0).choice(ys.size, 40000, replace=False)
        ys, xs = ys[sel], xs[sel]
    xs = xs.astype(np.float64) - small.shape[1] / 2.0
    ys = ys.astype(np.float64) - small.shape[0] / 2.0
    nbins = int(math.hypot(*small.shape)) + 2

    def score(deg: float) -> float:
        t = math.radians(deg)
        yr = ys * math.cos(t) - xs * math.sin(t) + nbins / 2.0
        hist = np.bincount(np.clip(yr.astype(np.int64), 0, nbins - 1), minlength=nbins).astype(np.float64)
        return float((hist**2).sum())

    coarse = np.arange(-max_angle, max_angle + 1e-9, 1.0)
    best = max(coarse, key=score)
    fine = np.arange(best - 1.0, best + 1.0 + 1e-9, 0.1)
    best = max(fine, key=score)
    # NOTE: rows are sharpest at the angle that levels them; that angle is the cv2 rotation to apply
    return float(best) if abs(best) >= 0.2 else 0.0


def rotate(image: np.ndarray, angle: float, border: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre by ``angle`` degrees (counter-clockwise), enlarging the canvas.

    Returns the rotated image and the 2x3 affine matrix from original to rotated coordinates.
    """
    import cv2

    H, W = image.shape[:2]
    M = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), angle, 1.0)
    c, s_ = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(math.ceil(H * s_ + W * c)), int(math.ceil(H * c + W * s_))
    M[0, 2] += nw / 2.0 - W / 2.0
    M[1, 2] += nh / 2.0 - H / 2.0
    if border is None:
        border = int(np.median(np.concatenate([image[0].reshape(-1), image[-1].reshape(-1)])))
    value = (border,) * 3 if image.ndim == 3 else border
    out = cv2.warpAffine(image, M, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=value)
    return out, M
