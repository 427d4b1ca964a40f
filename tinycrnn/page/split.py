"""Cut long line crops into pieces at their widest inner gaps before recognition.

PP-OCRv2 was trained on lines squeezed to 32x320; on longer inputs it often drops the start of
the line (everything before a comma, or all of it). Reading a long crop as pieces no wider than
``max_ratio`` heights, split at word gaps and joined with a space, avoids that. Only whitespace
columns are cut, never ink.
"""
from typing import List, Sequence, Tuple

import numpy as np


def crop_ink(gray: np.ndarray) -> np.ndarray:
    """(H, W) bool ink of a uint8 gray crop (Otsu, polarity from the border)."""
    import cv2

    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([bw[0], bw[-1], bw[:, 0], bw[:, -1]])
    return bw == 0 if border.mean() > 127 else bw > 0


def ink_columns(gray: np.ndarray) -> np.ndarray:
    """(W,) bool: columns of a uint8 gray crop (H, W) that hold ink (Otsu, polarity from the border)."""
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        return np.ones(gray.shape[1], bool)
    return crop_ink(gray).sum(axis=0) > 0


class Glyphs:
    """The connected ink components of a line crop, with the line's baseline and glyph height.

    Attributes: ``ink`` (H, W) bool, ``labels`` component image, ``x, y, w, h`` float arrays per
    component, ``tall`` (glyph-height components: at least 35% of the crop height), ``base`` (median
    bottom of the tall ones) and ``xh`` (their median height). ``base``/``xh`` are 0 when fewer
    than two glyphs are tall.
    """

    def __init__(self, crop: np.ndarray):
        import cv2

        gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        self.ink = crop_ink(gray)
        _, self.labels, st, _ = cv2.connectedComponentsWithStats(self.ink.astype(np.uint8), connectivity=8)
        self.x, self.y, self.w, self.h = (st[1:, k].astype(np.float64) for k in range(4))
        self.tall = self.h >= 0.35 * gray.shape[0]
        ok = self.tall.sum() >= 2
        self.base = float(np.median((self.y + self.h)[self.tall])) if ok else 0.0
        self.xh = float(np.median(self.h[self.tall])) if ok else 0.0

    def has_tail(self) -> np.ndarray:
        """Per component: reaches below the baseline and is taller than wide (a comma, not a full stop).

        In small print (glyphs under 12 px) a comma's tail can be a single pixel; one pixel counts
        there only when a word gap follows the mark, as it follows a comma."""
        depth = self.y + self.h - self.base
        deep = depth >= max(1.5, 0.1 * self.xh)
        if 0 < self.xh < 12 and len(self.x):
            right = self.x + self.w
            order = np.sort(self.x)
            nxt = order[np.minimum(np.searchsorted(order, right), len(order) - 1)]
            gap = np.where(nxt >= right, nxt - right, np.inf)
            deep |= (depth >= 1.0) & (gap >= 0.3 * self.xh)
        return deep & (self.h >= 1.2 * self.w)


def restore_commas(crop: np.ndarray, text: str, spans: Sequence[Tuple[int, int]], cols_per_step: float) -> str:
    """Turn a read ``.`` into ``,`` where the glyph under it has a comma's tail.

    Why: PP-OCRv2 never emits ``,`` (its comma classes stay below p = 0.003 everywhere); it reads
    a comma as ``.`` or drops it, which costs every ``JALAN,``-style token of an address. A comma
    differs from a full stop by its tail: it reaches below the baseline and is taller than wide.
    The mark nearest the ``.``'s CTC position is measured; a ``.`` between two digits is a decimal
    point and stays.

    Args:
        crop: the uint8 piece that was read (gray or BGR).
        text, spans: the decoded text and each character's time-step span.
        cols_per_step: crop columns per output time step.
    """
    if "." not in text or len(spans) != len(text) or crop.shape[0] < 10:
        return text
    g = Glyphs(crop)
    if g.tall.sum() < 2:
        return text
    x, y, w, tall, base, xh = g.x, g.y, g.w, g.tall, g.base, g.xh
    tail = g.has_tail()
    cx = x + w / 2.0
    out = list(text)
    for k, ch in enumerate(text):
        if ch != "." or (0 < k < len(text) - 1 and text[k - 1].isdigit() and text[k + 1].isdigit()):
            continue
        c = (spans[k][0] + spans[k][1]) / 2.0 * cols_per_step
        near = (~tall) & (y > base - 0.6 * xh) & (np.abs(cx - c) < 0.6 * xh)
        if not near.any():
            continue
        j = np.flatnonzero(near)[np.argmin(np.abs(cx - c)[near])]
        if tail[j]:
            out[k] = ","
    return "".join(out)


def gap_runs(cols: np.ndarray) -> List[Tuple[int, int]]:
    """Runs ``(start, stop)`` of False between the first and last True of ``cols``."""
    idx = np.flatnonzero(cols)
    if idx.size == 0:
        return []
    inner = cols[idx[0] : idx[-1] + 1]
    d = np.diff(np.concatenate([[1], inner.astype(np.int8), [1]]))
    starts, stops = np.flatnonzero(d == -1), np.flatnonzero(d == 1)
    return [(int(a) + idx[0], int(b) + idx[0]) for a, b in zip(starts, stops)]


def split_points(cols: np.ndarray, height: int, max_ratio: float, min_gap: float = 0.3) -> List[int]:
    """Columns to cut a crop at so each piece is at most ``max_ratio * height`` wide.

    Args:
        cols: (W,) bool ink columns (:func:`ink_columns`).
        height: crop height in pixels.
        max_ratio: largest width/height of a piece.
        min_gap: smallest gap, in heights, that may be cut (smaller gaps are inside words).

    Returns:
        Sorted cut columns (gap centres); empty when the crop is short enough or has no gap.
    """
    limit = max_ratio * height
    cuts: List[int] = []

    def rec(a: int, b: int) -> None:
        if b - a <= limit:
            return
        gaps = [(s, e) for s, e in gap_runs(cols[a:b]) if e - s >= min_gap * height]
        if not gaps:
            return
        mid = (b - a) / 2.0
        # NOTE: prefer wide gaps near the middle: both halves shrink fastest and column gaps win.
        s, e = max(gaps, key=lambda g: (g[1] - g[0]) * (1.0 - 0.8 * abs((g[0] + g[1]) / 2.0 - mid) / mid))
        c = a + (s + e) // 2
        rec(a, c)
        cuts.append(c)
        rec(c, b)

    rec(0, len(cols))
    return sorted(cuts)


def clear_column(gray: np.ndarray, cols: np.ndarray, c: int) -> int:
    """The column nearest ``c`` in the gap around it (a run of ``cols`` False) that crosses no faint mark.

    Why: marks fainter or smaller than the Otsu ink threshold (the dots of a thin ``:``) do not count
    as ink columns, so a gap's middle can run through them; cut there, both pieces read a ``:``
    (``TEL: : 07-...``). A faint mark is a pixel 40 grey levels darker than the gap's median (a
    fixed contrast, not the lightest column: shading and JPEG halos make a gap's edges lightest,
    and a cut next to a glyph leaves its rim in the other piece, read as a doubled letter).
    """
    if c <= 0 or c >= len(cols) or cols[c]:
        return c
    a, b = c, c
    while a > 0 and not cols[a - 1]:
        a -= 1
    while b < len(cols) - 1 and not cols[b + 1]:
        b += 1
    gap = gray[:, a : b + 1].astype(np.int16)
    bg = int(np.median(gap))
    marks = ((gap > bg + 40) if bg < 128 else (gap < bg - 40)).any(axis=0)
    if not marks[c - a]:
        return c
    free = np.flatnonzero(~marks) + a
    return int(free[np.argmin(np.abs(free - c))]) if free.size else c


def split_crop(img: np.ndarray, max_ratio: float, min_gap: float = 0.3) -> List[np.ndarray]:
    """Cut a uint8 crop (H, W) or (H, W, 3) into pieces at most ``max_ratio`` heights wide, at gaps."""
    h, w = img.shape[:2]
    if w <= max_ratio * h:
        return [img]
    import cv2

    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    cols = ink_columns(gray)
    # NOTE: on the SROIE dev receipts this moved cuts off faint colons in 2 lines (TEL: : 07-... -> TEL : 07-...)
    cuts = [clear_column(gray, cols, c) for c in split_points(cols, h, max_ratio, min_gap)]
    edges = [0] + cuts + [w]
    return [img[:, a:b] for a, b in zip(edges[:-1], edges[1:]) if b > a]


def erase_commas(crop: np.ndarray) -> Tuple[np.ndarray, List[float]]:
    """Paint over comma-shaped marks of a line crop; return the cleaned crop and each comma's centre column.

    Why: PP-OCRv2 deletes everything left of a line's last comma and never emits ``,`` itself
    (learnt from its training labels). Without the commas it reads the whole line; the commas go
    back in with :func:`insert_commas`. A mark counts as a comma when it sits on the baseline,
    reaches below it, is taller than wide and at least a quarter of the glyph height, stands in
    a gap between glyphs (no glyph shares its columns) and has nothing above it (so a broken
    ``P`` or ``)`` is not one). On the SROIE dev line crops the reader gets 26 of the 62 comma lines
    exactly (0 with comma handling off; all lines 86.43 -> 88.29%: ``python -m benchmarks.eval_page_reader``).
    """
    if crop.shape[0] < 10:
        return crop, []
    import cv2

    g = Glyphs(crop)
    if g.tall.sum() < 3:
        return crop, []
    x, y, w, h, tall, base, xh = g.x, g.y, g.w, g.h, g.tall, g.base, g.xh
    shaped = (~tall) & (h < 0.7 * xh) & (h >= 0.25 * xh) & (w < 0.45 * xh) & (y > base - 0.45 * xh) & g.has_tail()
    upper = y < base - 0.5 * xh
    commas = [i for i in np.flatnonzero(shaped)
              if not np.any(tall & (x < x[i] + w[i] - 0.5) & (x + w > x[i] + 0.5))
              and not np.any(upper & (x < x[i] + w[i] + 0.5) & (x + w > x[i] - 0.5))]
    if not commas:
        return crop, []
    out = crop.copy()
    out[cv2.dilate(np.isin(g.labels, np.array(commas) + 1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = (
        np.median(crop[~g.ink], axis=0) if (~g.ink).any() else 255)
    return out, sorted(float(x[i] + w[i] / 2.0) for i in commas)


def insert_commas(text: str, conf: Sequence[float], spans: Sequence[Tuple[int, int]], cols_per_step: float,
                  commas: Sequence[float]):
    """Put the commas :func:`erase_commas` took out back into the decoded text.

    Each comma follows the last character whose CTC step lies left of it (CTC fires near a
    glyph's left edge). Between two digits the mark is a decimal point read in a comma-like
    font, so ``.`` goes in instead (and a space the model put there is dropped). A ``.`` or ``,``
    the model already emitted there is replaced, not doubled.

    Returns:
        ``(text, conf, spans)``, still one confidence and one span per character.
    """
    if not commas or len(spans) != len(text):
        return text, list(conf), list(spans)
    pos = [(s + e) / 2.0 * cols_per_step for s, e in spans]
    mark = {}
    for c in commas:
        k = max((i for i, p in enumerate(pos) if p < c and not text[i].isspace()), default=None)
        if k is None:
            continue
        nxt = next((j for j in range(k + 1, len(text)) if not text[j].isspace()), None)
        left = k - 1 if text[k] in ".," and k > 0 else k  # the model's own mark there: judge by the glyph before it
        mark[k] = "." if text[left].isdigit() and nxt is not None and text[nxt].isdigit() else ","
    out, oc, sp = [], [], []
    for i, ch in enumerate(text):
        if ch in ".," and (i in mark or i - 1 in mark):
            ch = mark.pop(i, None) or mark[i - 1]
        elif ch.isspace() and out and out[-1] == "." and i - 1 in mark and i + 1 < len(text) and text[i + 1].isdigit():
            continue
        out.append(ch)
        oc.append(conf[i])
        sp.append(spans[i])
        if i in mark and not (i + 1 < len(text) and text[i + 1] in ".,"):
            out.append(mark[i])
            oc.append(conf[i])
            sp.append(spans[i])
    return "".join(out), oc, sp
