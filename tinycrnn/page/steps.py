"""Composable image preprocessing steps for pages and line crops.

Each step is a small callable object, ``step(img) -> img`` on uint8 gray (H, W) or BGR
(H, W, 3) images, configured in its constructor. ``Steps`` chains them and
``parse_steps("gray,clahe,denoise")`` builds a chain from names. Which steps the page
pipeline runs by default is chosen by measurement (benchmarks/ablation_preprocess.py).
"""
import math
from typing import Callable, Dict, List, Sequence, Union

import numpy as np

from ..errors import InputTypeError


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _like(out_gray: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Return a processed gray image in the input's layout (BGR in, BGR out)."""
    import cv2

    return out_gray if img.ndim == 2 else cv2.cvtColor(out_gray, cv2.COLOR_GRAY2BGR)


class Gray:
    """BGR -> gray (luma), gray unchanged."""

    name = "gray"

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return _gray(img)


class Clahe:
    """Contrast-limited adaptive histogram equalisation (on luma; colour layout kept)."""

    name = "clahe"

    def __init__(self, clip: float = 2.0, tiles: int = 8):
        self.clip, self.tiles = clip, tiles

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        clahe = cv2.createCLAHE(clipLimit=self.clip, tileGridSize=(self.tiles, self.tiles))
        return _like(clahe.apply(_gray(img)), img)


class Denoise:
    """Gaussian blur with a ``ksize`` x ``ksize`` kernel."""

    name = "denoise"

    def __init__(self, ksize: int = 3):
        self.ksize = ksize | 1

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.GaussianBlur(img, (self.ksize, self.ksize), 0)


class Otsu:
    """Global Otsu binarisation (dark text stays dark; output 0/255)."""

    name = "otsu"

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        _, bw = cv2.threshold(_gray(img), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return _like(bw, img)


class Resize:
    """Aspect-preserving resize: to ``height`` rows, or so the longer side is at most ``max_side``."""

    name = "resize"

    def __init__(self, height: int = 0, max_side: int = 0):
        if (height > 0) == (max_side > 0):
            raise InputTypeError("Resize: give exactly one of height or max_side")
        self.height, self.max_side = height, max_side

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        h, w = img.shape[:2]
        s = self.height / h if self.height else min(1.0, self.max_side / max(h, w))
        if s == 1.0:
            return img
        size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


class Deskew:
    """Rotate so text rows are horizontal (projection-profile angle search within ``max_angle``)."""

    name = "deskew"

    def __init__(self, max_angle: float = 15.0):
        self.max_angle = max_angle

    def __call__(self, img: np.ndarray) -> np.ndarray:
        from .skew import estimate_skew, rotate

        angle = estimate_skew(_gray(img), self.max_angle)
        return img if angle == 0.0 else rotate(img, angle)[0]


class LineDeskew(Deskew):
    """Deskew for a single line crop: small angles only, rotation without enlarging much."""

    name = "line_deskew"

    def __init__(self, max_angle: float = 5.0):
        super().__init__(max_angle)


Step = Callable[[np.ndarray], np.ndarray]
STEPS: Dict[str, Callable[[], Step]] = {
    "gray": Gray, "clahe": Clahe, "denoise": Denoise, "otsu": Otsu, "deskew": Deskew, "line_deskew": LineDeskew,
}


class Steps:
    """A chain of steps applied in order; an empty chain returns its input."""

    def __init__(self, steps: Sequence[Step] = ()):
        self.steps: List[Step] = list(steps)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        for step in self.steps:
            img = step(img)
        return img

    @property
    def names(self) -> List[str]:
        return [getattr(s, "name", type(s).__name__) for s in self.steps]

    def __repr__(self) -> str:
        return f"Steps({','.join(self.names)})"


def parse_steps(spec: Union[str, Sequence[str], Steps, None]) -> Steps:
    """``"gray,clahe"`` / ``["gray", "clahe"]`` / a Steps / None (no steps) -> Steps.

    Raises:
        InputTypeError: an unknown step name (the message lists the known ones).
    """
    if spec is None:
        return Steps()
    if isinstance(spec, Steps):
        return spec
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec)
    out = []
    for n in names:
        if not n:
            continue
        if callable(n):
            out.append(n)
            continue
        if n not in STEPS:
            raise InputTypeError(f"unknown preprocessing step {n!r}; known steps: {', '.join(sorted(STEPS))}")
        out.append(STEPS[n]())
    return Steps(out)


def degrade(img: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A low-quality version of a clean image for ablations: ``blur``, ``noise`` or ``low_contrast``."""
    import cv2

    if kind == "blur":
        k = max(3, int(math.ceil(img.shape[0] / 16.0)) | 1)
        return cv2.GaussianBlur(img, (k, k), 0)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return np.clip(img.astype(np.float32) + rng.normal(0.0, 25.0, img.shape), 0, 255).astype(np.uint8)
    if kind == "low_contrast":
        return (img.astype(np.float32) * 0.3 + 150.0).astype(np.uint8)
    raise InputTypeError(f"unknown degradation {kind!r}; use blur, noise or low_contrast")
