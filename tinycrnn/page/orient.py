"""Line orientation: find upside-down line crops with the 0/180 classifier and turn them.

A photo taken the wrong way up gives DB boxes whose crops read upside down; the PP-OCR
mobile classifier (``tinycrnn.load_model("ppocr_cls")``) says per crop whether it is turned
180 degrees. Preprocessing and the 0.9 threshold are RapidOCR 1.4.4's (``cls_thresh``).
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

#: Input height and width of the classifier.
CLS_H, CLS_W = 48, 192


def cls_input(crops: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 BGR crops -> (N, 3, 48, 192) float32: height 48, aspect kept up to 192 wide, (x/255-0.5)/0.5, 0.0 pad."""
    import cv2

    x = np.zeros((len(crops), 3, CLS_H, CLS_W), np.float32)
    for i, c in enumerate(crops):
        if c.ndim == 2:
            c = cv2.cvtColor(c, cv2.COLOR_GRAY2BGR)
        h, w = c.shape[:2]
        rw = min(CLS_W, int(math.ceil(CLS_H * w / float(h))))
        r = cv2.resize(c, (max(rw, 1), CLS_H)).astype(np.float32)
        x[i, :, :, : r.shape[1]] = (r * np.float32(1 / 127.5) - np.float32(1.0)).transpose(2, 0, 1)
    return x


class Orienter:
    """Turn crops the classifier calls upside down (probability of '180' above ``thresh``).

    Args:
        model: anything with ``forward((N, 3, 48, 192)) -> (N, 2)`` probabilities over ['0', '180'];
            default ``tinycrnn.load_model("ppocr_cls")``, loaded on first use.
        thresh: RapidOCR's ``cls_thresh``.
        page_vote: when the width-weighted mean probability of '180' over the page's lines exceeds this,
            the whole page is upside down and every line is turned (short lines such as prices are often
            classified below ``thresh``); otherwise each line follows ``thresh``. 0 = per line only.
        batch_size: crops per forward pass (RapidOCR uses 6).
        early, clear: lines are classified longest first; once ``early`` of them are done and their
            width-weighted mean P(180) is under ``clear`` with none above ``thresh`` (or over
            ``1 - clear`` with none under ``1 - thresh``), the page is decided and the remaining (shorter)
            lines are not classified: upright pages keep them as they are, upside-down ones turn them
            all, as the page vote would. Short lines are the least reliable votes (RapidOCR's classifier
            flips about one upright line per receipt). 0 = classify every line.
    """

    def __init__(self, model=None, thresh: float = 0.9, batch_size: int = 6, backend: Optional[str] = None,
                 page_vote: float = 0.5, early: int = 12, clear: float = 0.1):
        self._model = model
        self.thresh = thresh
        self.page_vote = page_vote
        self.early, self.clear = early, clear
        self.batch_size = batch_size
        self.backend = backend

    @property
    def model(self):
        if self._model is None:
            from ..engine import load_model

            self._model = load_model("ppocr_cls", backend=self.backend)
        return self._model

    def __call__(self, crops: Sequence[np.ndarray]) -> Tuple[List[np.ndarray], List[bool]]:
        """Crops with the upside-down ones turned, and a flag per crop (True = turned)."""
        out, flipped = list(crops), [False] * len(crops)
        # NOTE: sorted by aspect ratio so a batch pads little, as RapidOCR does; longest first, the surest votes
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / float(max(crops[i].shape[0], 1)),
                       reverse=True)
        widths = np.array([c.shape[1] for c in crops], np.float64)
        p180 = np.zeros(len(crops))
        seen = len(order)
        decided = None
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            p180[idx] = np.asarray(self.model.forward(cls_input([crops[i] for i in idx])))[:, 1]
            decided = self._early(order[: s + len(idx)], p180, widths) if s + len(idx) < len(order) else None
            if decided is not None:
                seen = s + len(idx)
                break
        if decided is False:
            return out, flipped  # a clearly upright page: the lines not classified stay as they are
        p = p180[order[:seen]]
        w = widths[order[:seen]]
        vote = self.page_vote > 0 and len(crops) > 0 and float(np.dot(p, w) / w.sum()) > self.page_vote
        whole = decided is True or vote
        for i in range(len(crops)):
            if whole or p180[i] > self.thresh:
                out[i] = np.ascontiguousarray(crops[i][::-1, ::-1])
                flipped[i] = True
        return out, flipped

    def _early(self, seen: Sequence[int], p180: np.ndarray, widths: np.ndarray) -> Optional[bool]:
        """After the longest ``early`` lines: True when they all say upside down, False when they all say
        upright, None to go on classifying."""
        if self.page_vote <= 0 or not self.early or len(seen) < self.early:
            return None
        p, w = p180[list(seen)], widths[list(seen)]
        mean = float(np.dot(p, w) / w.sum())
        if mean < self.clear and float(p.max()) < self.thresh:
            return False
        if mean > 1.0 - self.clear and float(p.min()) > 1.0 - self.thresh:
            return True
        return None
