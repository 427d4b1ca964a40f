"""The learned line detector: PP-OCRv4 DB ("Differentiable Binarization") and its post-processing.

The network (``tinycrnn.load_model("ppocrv4_det")``) turns a page into a text-probability map;
everything else is here, with numpy and OpenCV only, following RapidOCR 1.4.4 / PaddleOCR so the
boxes are the reference's: the input sizing and normalisation of :func:`det_input`, then
:func:`boxes_from_map` (binarise, contours, min-area rectangles, mean-probability score, the
pyclipper "unclip" done by :func:`~tinycrnn.page.offset.clipper_offset`, min-area rectangle again).
Unlike the classical :class:`~tinycrnn.page.detect.LineDetector`, DB does not assume level text on
white paper, so photos (skew, perspective, background, uneven light) keep their lines.
"""
import math
from typing import List, Optional, Tuple

import numpy as np

from .offset import clipper_offset, unclip_distance


def det_input(image: np.ndarray, limit_side: int = 736, max_side: int = 2000,
              page_shape: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, float, float]:
    """uint8 BGR page -> ((1, 3, H, W) float32 network input, ratio_h, ratio_w) (RapidOCR's sizing).

    Pages whose long side exceeds ``max_side`` are shrunk to it; a short side under ``limit_side`` is
    scaled up to it; each side is then rounded to the nearest multiple of 32. ``ratio_*`` = input / page.
    With ``page_shape`` (h, w), ``image`` is a region of that page and is scaled as the whole page would be.
    """
    import cv2

    h, w = image.shape[:2]
    ph, pw = page_shape or (h, w)
    s = max_side / float(max(ph, pw)) if max(ph, pw) > max_side else 1.0
    img = image
    if s < 1.0:
        img = cv2.resize(img, (int(w * s), int(h * s)))
    ih, iw = img.shape[:2]
    short = min(int(ph * s), int(pw * s))
    ratio = float(limit_side) / short if short < limit_side else 1.0
    rh, rw = int(ih * ratio), int(iw * ratio)
    rh = max(int(round(rh / 32) * 32), 32)
    rw = max(int(round(rw / 32) * 32), 32)
    img = cv2.resize(img, (rw, rh))
    x = (img.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(x), rh / float(h), rw / float(w)


def mini_box(points: np.ndarray) -> Tuple[np.ndarray, float]:
    """Min-area rectangle of a point set as float32 (4, 2) corners (top-left first, clockwise), and its short side."""
    import cv2

    rect = cv2.minAreaRect(np.asarray(points, np.float32).reshape(-1, 1, 2))
    p = sorted(list(cv2.boxPoints(rect)), key=lambda q: q[0])
    i1, i4 = (0, 1) if p[1][1] > p[0][1] else (1, 0)
    i2, i3 = (2, 3) if p[3][1] > p[2][1] else (3, 2)
    return np.array([p[i1], p[i2], p[i3], p[i4]], np.float32), float(min(rect[1]))


def box_score(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the polygon ``box`` (PaddleOCR's ``box_score_fast``)."""
    import cv2

    h, w = prob.shape
    b = np.asarray(box, np.float64).reshape(-1, 2).copy()
    x0 = int(np.clip(np.floor(b[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(b[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(b[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(b[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    b[:, 0] -= x0
    b[:, 1] -= y0
    cv2.fillPoly(mask, b.reshape(1, -1, 2).astype(np.int32), 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def boxes_from_map(prob: np.ndarray, thresh: float = 0.3, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                   min_size: int = 3, max_candidates: int = 1000, dilate: bool = True) -> List[Tuple[np.ndarray, float]]:
    """(H, W) probability map -> [(float32 (4, 2) box in map coordinates, score)].

    Binarise at ``thresh`` (dilated by 2x2 as RapidOCR does), take each contour's min-area rectangle,
    drop it when its short side is under ``min_size`` or its mean probability under ``box_thresh``,
    grow it by the unclip offset (``unclip_ratio``), take the min-area rectangle again and drop it
    when its short side is under ``min_size + 2``. Corners are clipped to the map.
    """
    import cv2

    h, w = prob.shape
    bitmap = (prob > thresh).astype(np.uint8)
    if dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
    out = []
    for contour in contours[:max_candidates]:
        box, sside = mini_box(contour)
        if sside < min_size:
            continue
        score = box_score(prob, box)
        if score < box_thresh:
            continue
        grown = clipper_offset(box, unclip_distance(box, unclip_ratio))
        if len(grown) < 3:
            continue
        box, sside = mini_box(grown)
        if sside < min_size + 2:
            continue
        box[:, 0] = box[:, 0].clip(0, w)
        box[:, 1] = box[:, 1].clip(0, h)
        out.append((box, score))
    return out


def order_clockwise(box: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left (RapidOCR's ``order_points_clockwise``)."""
    b = np.asarray(box, np.float32).reshape(4, 2)
    xs = b[np.argsort(b[:, 0])]
    left, right = xs[:2], xs[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], np.float32)


#: :meth:`DBDetector.text_region`'s first look: the page shrunk to this long side.
COARSE_SIDE = 960
#: Map pixels over this probability in the first look count as text (specks of one pixel aside).
COARSE_THRESH = 0.1
#: The region read at full resolution: the first look's text grown by this share of the page's long side.
REGION_MARGIN = 0.06
#: A region larger than this share of the page is not worth the first look: the whole page is read.
REGION_MAX_SHARE = 0.7


class DBDetector:
    """PP-OCRv4 DB text detector: ``detect(bgr_page) -> [float32 (4, 2) box]`` in page coordinates.

    Args:
        model: anything with ``forward(x) -> (N, 1, H, W)`` probabilities, or a model name or path for
            ``tinycrnn.load_model``; default ``"ppocrv4_det"``, loaded on first use.
        thresh, box_thresh, unclip_ratio: see :func:`boxes_from_map` (RapidOCR 1.4.4's 0.3 / 0.5 / 1.6).
        limit_side, max_side: input sizing, see :func:`det_input`.
        classifier: the 0/180 line classifier model for :class:`~tinycrnn.page.orient.Orienter`
            (default ``load_model("ppocr_cls")``); ``orient=False``: crops are read as cut.
        backend: kernel backend for the default models.
        photo_crops: line crops are read in gray and sharpened (:func:`~tinycrnn.page.photo.photo_crop`);
            False reads them as cut.
        coarse_side: large pages are first looked at shrunk to this long side, and the full-resolution
            pass reads only where that look found text (:meth:`text_region`); 0 reads the whole page.
    """

    #: The page pipeline gives this detector the colour page and cuts rotated crops from its boxes.
    learned = True

    def __init__(self, model=None, thresh: float = 0.3, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                 limit_side: int = 736, max_side: int = 2000, classifier=None, orient: bool = True,
                 backend: Optional[str] = None, photo_crops: bool = True, coarse_side: int = COARSE_SIDE):
        from .orient import Orienter

        self.photo_crops, self.coarse_side = photo_crops, coarse_side
        self._model = model
        self.orienter = Orienter(classifier, backend=backend) if orient else None
        self.backend = backend
        self.thresh, self.box_thresh, self.unclip_ratio = thresh, box_thresh, unclip_ratio
        self.limit_side, self.max_side = limit_side, max_side
        self.scores: List[float] = []

    @property
    def model(self):
        if self._model is None or isinstance(self._model, str):
            from ..engine import load_model

            self._model = load_model(self._model or "ppocrv4_det", backend=self.backend)
        return self._model

    def probability_map(self, image: np.ndarray) -> Tuple[np.ndarray, float, float]:
        """The network's (H, W) map for a uint8 BGR page, with the map / page ratios (h, w)."""
        if image.ndim == 2:
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        x, rh, rw = det_input(image, self.limit_side, self.max_side)
        return np.asarray(self.model.forward(x))[0, 0], rh, rw

    def text_region(self, image: np.ndarray) -> Tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the part of the page the full-resolution pass reads.

        A phone photo of a receipt is mostly table: the text's bounding box is 10-40% of the frame on the
        SROIE dev photos. A look at the page shrunk to ``coarse_side`` (about a tenth of the pixels) finds
        the text boxes; their bounding box grown by :data:`REGION_MARGIN` of the long side is read at full
        resolution. The whole page is read when it is small, when the look finds nothing, or when the
        region would be most of the page anyway.
        """
        h, w = image.shape[:2]
        whole = (0, 0, w, h)
        if not self.coarse_side or max(h, w) < 2 * self.coarse_side:
            return whole
        import cv2

        x, _, _ = det_input(image, limit_side=1, max_side=self.coarse_side)
        prob = np.asarray(self.model.forward(x))[0, 0]
        # NOTE: every pixel over COARSE_THRESH counts (no box score): faint small print must not fall outside
        ink = cv2.morphologyEx((prob > COARSE_THRESH).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        ys, xs = np.nonzero(ink)
        if not len(xs):
            return whole
        mh, mw = prob.shape
        m = REGION_MARGIN * max(h, w)
        x0, x1 = int(max(0, xs.min() / mw * w - m)), int(min(w, math.ceil((xs.max() + 1) / mw * w + m)))
        y0, y1 = int(max(0, ys.min() / mh * h - m)), int(min(h, math.ceil((ys.max() + 1) / mh * h + m)))
        if (x1 - x0) * (y1 - y0) > REGION_MAX_SHARE * w * h:
            return whole
        return x0, y0, x1, y1

    def detect(self, image: np.ndarray) -> List[np.ndarray]:
        if image.ndim == 2:
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        h, w = image.shape[:2]
        x0, y0, x1, y1 = self.text_region(image)
        x, _, _ = det_input(image[y0:y1, x0:x1], self.limit_side, self.max_side, page_shape=(h, w))
        prob = np.asarray(self.model.forward(x))[0, 0]
        ph, pw = prob.shape
        boxes, self.scores = [], []
        for box, score in boxes_from_map(prob, self.thresh, self.box_thresh, self.unclip_ratio):
            # NOTE: RapidOCR rounds the scaled corners to integers; kept, so its boxes and ours agree
            box[:, 0] = np.clip(np.round(box[:, 0] / pw * (x1 - x0)) + x0, 0, w)
            box[:, 1] = np.clip(np.round(box[:, 1] / ph * (y1 - y0)) + y0, 0, h)
            box = order_clockwise(box)
            if int(math.hypot(*(box[1] - box[0]))) <= 3 or int(math.hypot(*(box[3] - box[0]))) <= 3:
                continue
            boxes.append(box)
            self.scores.append(score)
        return boxes
