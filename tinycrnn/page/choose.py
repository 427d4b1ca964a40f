"""Which line detector reads a page, and the page path of the learned (DB) detector.

``OCR(detector=...)`` takes ``"lines"`` (classical, level text on paper), ``"db"`` (learned,
:mod:`~tinycrnn.page.db`), ``"auto"`` or a detector object. :func:`read_learned` is the page
path DB boxes take: 4-point boxes in reading order, perspective crops (:mod:`~tinycrnn.page.crop`),
upside-down lines turned (:mod:`~tinycrnn.page.orient`), then the same line reader as the
classical path.
"""
import time
from typing import Any, Optional, Tuple

import numpy as np

from ..errors import InputTypeError, ModelNotFoundError

#: The names ``OCR(detector=...)`` accepts.
DETECTORS = ("auto", "db", "lines")
#: The engine models the DB path needs.
DB_MODELS = ("ppocrv4_det", "ppocr_cls")


def db_installed() -> bool:
    """True when both DB models resolve (shipped with the package or on the model path)."""
    from ..engine import resolve_model_path

    try:
        for name in DB_MODELS:
            resolve_model_path(name)
    except ModelNotFoundError:
        return False
    return True


def make_detector(spec: Any, backend: Optional[str] = None):
    """``"auto"`` / ``"db"`` / ``"lines"`` / None / a detector object -> a detector object.

    ``"auto"`` is an :class:`AutoDetector` when the DB models are installed, else the classical detector.

    Raises:
        InputTypeError: an unknown name.
        ModelNotFoundError: ``"db"`` without its models.
    """
    from .db import DBDetector
    from .detect import LineDetector

    if spec is None or spec == "lines":
        return LineDetector()
    if isinstance(spec, str):
        if spec == "db":
            if not db_installed():
                raise ModelNotFoundError(f"detector 'db' needs the models {', '.join(DB_MODELS)}, not installed")
            return DBDetector(backend=backend)
        if spec == "auto":
            return AutoDetector(DBDetector(backend=backend), LineDetector()) if db_installed() else LineDetector()
        raise InputTypeError(f"unknown detector {spec!r}; use one of {', '.join(DETECTORS)} or a detector object")
    if not hasattr(spec, "detect"):
        raise InputTypeError(f"detector must be one of {', '.join(DETECTORS)} or have a detect() method; got {spec!r}")
    return spec


#: A page whose outer border is at least this share paper-like (bright, unsaturated) is a flat scan.
SCAN_BORDER = 0.4
#: Images whose short side is below this are line or word crops, not pages: DB would up-sample them more
#: than 5x to its 736-pixel short side and split the line into word boxes, so "auto" reads them as lines.
MIN_DB_SIDE = 128


def paper_border(img: np.ndarray) -> float:
    """Share of the outer 4% border that is paper-like: value > 170 and saturation < 40 (HSV).

    On the SROIE dev pages the flat scans measure 0.67-1.0 and the phone photos (receipt on a table,
    a textured background around it) 0.0-0.08. Only the four border strips are converted (the corners count
    twice): the whole page's HSV took 8.4 ms of a dev scan page for a 4% border, the strips 1.6 ms.
    """
    h, w = img.shape[:2]
    b = max(1, int(0.04 * min(h, w)))
    strips = (img[:b], img[-b:], img[:, :b], img[:, -b:])
    return float(np.concatenate([_paper_like(s).ravel() for s in strips]).mean())


def _paper_like(pixels: np.ndarray) -> np.ndarray:
    """value > 170 and saturation < 40 per pixel (HSV); a gray pixel has saturation 0 and value its gray level."""
    import cv2

    if pixels.ndim == 2:
        return pixels > 170
    hsv = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_BGR2HSV)
    return (hsv[..., 2] > 170) & (hsv[..., 1] < 40)


class AutoDetector:
    """``detector="auto"``: per page, the classical detector for flat scans (paper to the edges, see
    :func:`paper_border`) and for line crops (short side below :data:`MIN_DB_SIDE`), DB for everything else. Measured on the SROIE dev receipts: on scans the
    classical path reads better (token F1 0.905 against DB's 0.894), on phone photos DB does (0.759
    against 0.426)."""

    def __init__(self, db, lines):
        self.db, self.lines = db, lines

    def pick(self, img: np.ndarray):
        if min(img.shape[:2]) < MIN_DB_SIDE or paper_border(img) >= SCAN_BORDER:
            return self.lines
        return self.db

    def detect(self, image: np.ndarray):
        return self.pick(image).detect(image)


def trim_rows(crop: np.ndarray, frac: float) -> np.ndarray:
    """``crop`` with ``frac`` of its height cut off the top and the bottom (at least one row kept)."""
    h = crop.shape[0]
    dy = int(round(frac * h))
    return crop[dy : max(dy + 1, h - dy)]


def read_learned(ocr, detector, img: np.ndarray, scale: float, size: Tuple[int, int], t0: float):
    """:meth:`OCR.read` for a learned detector's 4-point boxes; returns a ``PageResult``."""
    from .crop import warp_crop_quad
    from .order import reading_order
    from .pipeline import SECOND_LOOK_TRIM, PageLine, PageResult, _as_rect, _has_ink
    from .words import line_words

    H0, W0 = size
    t1 = time.perf_counter()
    boxes = detector.detect(img) if min(img.shape[:2]) >= 4 else []
    if not boxes and min(img.shape[:2]) >= 1 and _has_ink(img):
        h, w = img.shape[:2]
        boxes = [np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)]
    order = reading_order([_as_rect(b) for b in boxes])
    boxes = [boxes[i] for i in order]
    cut = [warp_crop_quad(img, b) for b in boxes]
    crops, quads = [c for c, _ in cut], [q for _, q in cut]
    t2 = time.perf_counter()
    orienter = getattr(detector, "orienter", None)
    if orienter is not None and crops:
        crops, flipped = orienter(crops)
        quads = [q[[2, 3, 0, 1]] if f else q for q, f in zip(quads, flipped)]  # turned 180 degrees
    t3 = time.perf_counter()
    if getattr(detector, "photo_crops", False):
        from .photo import photo_crop

        crops = [photo_crop(c) for c in crops]
    raw = crops
    if ocr.crop_steps.steps:
        crops = [ocr.crop_steps(c) for c in crops]
    read = ocr.read_crops(crops, lambda i: trim_rows(crops[i], SECOND_LOOK_TRIM), ocr.learned_reader)
    t4 = time.perf_counter()
    lines = []
    for (text, conf, tokens), b, q, r, c in zip(read, boxes, quads, raw, crops):
        if not text or conf < ocr.min_confidence:
            continue
        pts = np.asarray(b, np.float64) * scale
        pts[:, 0] = pts[:, 0].clip(0, W0)
        pts[:, 1] = pts[:, 1].clip(0, H0)
        words = line_words(text, tokens, r, np.asarray(q, np.float64) * scale, r.shape[1] / float(max(c.shape[1], 1)))
        for w in words:
            w.box = [[min(max(x, 0.0), W0), min(max(y, 0.0), H0)] for x, y in w.box]
        lines.append(PageLine(text, conf, pts.tolist(), words))
    t5 = time.perf_counter()
    rec_ms = (t4 - t3) * 1000
    timings = {"preprocess": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000, "classify": (t3 - t2) * 1000,
               "recognise": rec_ms - ocr.learned_reader.decode_ms, "decode": ocr.learned_reader.decode_ms,
               "assemble": (t5 - t4) * 1000}
    return PageResult(lines, (t5 - t0) * 1000, timings, W0, H0, 0.0)
