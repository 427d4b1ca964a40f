"""Word boxes of a read line: where each word sits on the page, from the CTC character positions.

Why: hOCR, ALTO, TSV and searchable PDFs place text word by word, and users ask for word boxes with
per-character confidences. The CTC decoder already says at which time step every character fired;
a step is a fixed number of columns of the resized line, so each character has a column in the crop.
A word spans its characters' columns widened by half a character pitch, is kept clear of its
neighbours (the midpoint between two words' nearest characters), and is then snapped to the ink it
covers, so the box hugs the glyphs the way a Tesseract word box does. Crop coordinates go to the page
through the line's 4-point polygon (top and bottom edges interpolated), so rotated lines need nothing else.
Not here: reading (``reader.py``) or letter case (``case.py``).
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: A word reaches this many character pitches beyond its first and last character's CTC column
#: before snapping to ink (CTC fires inside a glyph, so the glyph's edges lie about half a pitch out).
REACH = 0.8


@dataclass
class Word:
    """One word of a line: ``text`` (no whitespace), ``confidence`` (mean of ``char_confidences``, in
    [0, 1]), ``char_confidences`` (one per character) and ``box`` = 4 [x, y] page corners clockwise
    from the top-left, like :class:`~tinycrnn.page.pipeline.PageLine`'s."""

    text: str
    confidence: float
    char_confidences: List[float] = field(default_factory=list)
    box: List[List[float]] = field(default_factory=list)

    @property
    def bbox(self) -> Tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``: the axis-aligned hull of ``box`` rounded to whole pixels (hOCR, ALTO, TSV)."""
        return bbox(self.box)

    def to_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 6),
                "char_confidences": [round(c, 6) for c in self.char_confidences],
                "box": [[round(x, 1), round(y, 1)] for x, y in self.box]}


@dataclass
class Token:
    """A whitespace token as the reader decoded it: characters, their confidences and crop columns
    (``xs`` is empty when the decoder gave no per-character spans). ``kept`` is False for tokens the
    reader dropped as junk; their ink still bounds the neighbouring words."""

    text: str
    score: float
    confs: List[float]
    xs: List[float]
    kept: bool = True


def bbox(box: Sequence[Sequence[float]]) -> Tuple[int, int, int, int]:
    """The axis-aligned hull ``(x0, y0, x1, y1)`` of a list of [x, y] points, rounded to whole pixels."""
    b = np.asarray(box, np.float64).reshape(-1, 2)
    if b.size == 0:
        return (0, 0, 0, 0)
    # NOTE: rounded, not floored/ceiled: a word box mapped back from a deskewed page lands on fractional
    # coordinates, and outward rounding made the boxes of adjacent words share a pixel column
    return (int(np.rint(b[:, 0].min())), int(np.rint(b[:, 1].min())), int(np.rint(b[:, 0].max())), int(np.rint(b[:, 1].max())))


def tokens_of(text: str, confs: Sequence[float], xs: Optional[Sequence[float]]) -> List[Token]:
    """Whitespace tokens of ``text`` with each character's confidence and column (``xs`` per character
    of ``text``, or None); the token score is the mean character confidence."""
    if len(confs) != len(text):
        return [Token(t, 1.0, [1.0] * len(t), []) for t in text.split()]
    have_x = xs is not None and len(xs) == len(text)
    out: List[Token] = []
    cur: List[int] = []
    for k, ch in enumerate(text + " "):
        if k < len(text) and not ch.isspace():
            cur.append(k)
        elif cur:
            cc = [float(confs[i]) for i in cur]
            out.append(Token("".join(text[i] for i in cur), float(np.mean(cc)), cc,
                             [float(xs[i]) for i in cur] if have_x else []))  # type: ignore[index]
            cur = []
    return out


def quad_point(quad: np.ndarray, u: float, v: float) -> np.ndarray:
    """The point at fraction ``u`` along and ``v`` down a 4-point polygon (tl, tr, br, bl): top and
    bottom edges interpolated at ``u``, then the segment between them at ``v``."""
    top = quad[0] + (quad[1] - quad[0]) * u
    bottom = quad[3] + (quad[2] - quad[3]) * u
    return top + (bottom - top) * v


def crop_rect_to_page(quad, crop_w: float, crop_h: float, rect: Sequence[float]) -> List[List[float]]:
    """Map ``rect`` = (x0, y0, x1, y1) in crop pixels to 4 page points through the line polygon ``quad``."""
    q = np.asarray(quad, np.float64).reshape(4, 2)
    x0, y0, x1, y1 = rect
    cw, ch = max(float(crop_w), 1e-9), max(float(crop_h), 1e-9)
    pts = [quad_point(q, x / cw, y / ch) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    return [[float(p[0]), float(p[1])] for p in pts]


def _pitch(tokens: Sequence[Token], height: float) -> float:
    steps = [b - a for t in tokens for a, b in zip(t.xs, t.xs[1:]) if b > a]
    p = float(np.median(steps)) if steps else 0.5 * height
    return float(np.clip(p, 0.15 * height, 1.5 * height))


def _words_of_text(text: str, tokens: Sequence[Token]) -> Optional[List[Tuple[str, List[float], List[float]]]]:
    """The words of ``text`` with their characters' confidences and columns, matched to the kept tokens'
    characters one to one (the case step only changes letter case and adds spaces), or None."""
    chars = [(c, x) for t in tokens if t.kept for c, x in zip(t.confs, t.xs or [np.nan] * len(t.text))]
    words = text.split()
    if sum(len(w) for w in words) != len(chars):
        return None
    out, k = [], 0
    for w in words:
        part = chars[k : k + len(w)]
        out.append((w, [c for c, _ in part], [x for _, x in part]))
        k += len(w)
    return out


def crop_words(text: str, tokens: Sequence[Token], ink: np.ndarray) -> List[Tuple[str, List[float], Tuple[float, ...]]]:
    """Words of a line's final ``text`` with their char confidences and (x0, y0, x1, y1) in crop pixels.

    Args:
        text: the line as output (after letter case and word spaces were restored).
        tokens: every token the reader decoded, kept or dropped, with crop columns.
        ink: (H, W) bool ink of the crop (:func:`~tinycrnn.page.split.crop_ink`).
    """
    H, W = ink.shape[:2]
    words = _words_of_text(text, tokens)
    if words is None or any(np.isnan(x) for _, _, xs in words for x in xs):
        return _even_words(text, ink)
    pitch = _pitch(tokens, H)
    cols = ink.any(axis=0)
    # every decoded character run (dropped junk included) bounds its neighbours at the widest ink gap between them
    others = sorted([(min(t.xs), max(t.xs)) for t in tokens if not t.kept and t.xs]
                    + [(min(xs), max(xs)) for _, _, xs in words if xs])
    out = []
    for w, confs, xs in words:
        a, b = min(xs), max(xs)
        lo = _grow(cols, a - REACH * pitch, -1, pitch)
        hi = _grow(cols, b + REACH * pitch, 1, pitch)
        left = max((ob for _, ob in others if ob < a), default=None)
        right = min((oa for oa, _ in others if oa > b), default=None)
        if left is not None:
            lo = max(lo, _gap_between(cols, left, a))
        if right is not None:
            hi = min(hi, _gap_between(cols, b, right))
        out.append((w, confs, _snap(ink, lo, hi)))
    return out


def _gap_between(cols: np.ndarray, a: float, b: float) -> float:
    """The middle of the widest run of ink-free columns between columns ``a`` and ``b`` (their midpoint if none).

    Why: a word gap is the widest gap between two words' characters; the midpoint of their CTC columns
    can fall inside a glyph (CTC fires off-centre, more so for some models)."""
    c0, c1 = int(np.clip(np.ceil(a), 0, len(cols))), int(np.clip(np.floor(b), 0, len(cols)))
    free = np.concatenate([[False], ~cols[c0:c1], [False]]).astype(np.int8)
    d = np.diff(free)
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    if starts.size == 0:
        return (a + b) / 2.0
    k = int(np.argmax(stops - starts))  # the first of equally wide gaps, as a left-to-right scan finds it
    return c0 + (starts[k] + stops[k]) / 2.0


def _grow(cols: np.ndarray, x: float, step: int, pitch: float) -> float:
    """Move an outer word edge at column ``x`` outwards (``step`` -1 left, +1 right) to the end of the ink
    run it cuts, at most one pitch: a glyph is taken whole, not cut."""
    W = len(cols)
    c = int(np.clip(np.floor(x), 0, W - 1)) if W else 0
    limit = x + step * pitch
    while W and 0 <= c < W and cols[c] and (c - limit) * step < 0:
        c += step
    return float(c + 1) if step > 0 else float(c)


def _snap(ink: np.ndarray, lo: float, hi: float) -> Tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the ink inside columns [lo, hi) of the crop, or the column range at full height."""
    H, W = ink.shape[:2]
    c0, c1 = int(np.clip(np.floor(lo), 0, W)), int(np.clip(np.ceil(hi), 0, W))
    if c1 <= c0:
        c0, c1 = int(np.clip(lo, 0, max(W - 1, 0))), int(np.clip(lo, 0, max(W - 1, 0))) + 1
    cols = np.flatnonzero(ink[:, c0:c1].any(axis=0))
    if cols.size == 0:
        return (float(c0), 0.0, float(c1), float(H))
    x0, x1 = c0 + int(cols[0]), c0 + int(cols[-1]) + 1
    rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
    return (float(x0), float(rows[0]), float(x1), float(rows[-1] + 1))


def _even_words(text: str, ink: np.ndarray):
    """No character columns: split the inked extent of the crop among the words by character count."""
    H, W = ink.shape[:2]
    words = text.split()
    cols = np.flatnonzero(ink.any(axis=0))
    a, b = (float(cols[0]), float(cols[-1] + 1)) if cols.size else (0.0, float(W))
    n = sum(len(w) + 1 for w in words) - 1
    out, k = [], 0
    for w in words:
        x0 = a + (b - a) * k / max(n, 1)
        x1 = a + (b - a) * (k + len(w)) / max(n, 1)
        out.append((w, [1.0] * len(w), _snap(ink, x0, x1)))
        k += len(w) + 1
    return out


def line_words(text: str, tokens: Sequence[Token], crop: np.ndarray, quad, scale_x: float = 1.0) -> List[Word]:
    """:class:`Word` s of a line in page coordinates.

    Args:
        text: the line's final text.
        tokens: the reader's tokens, columns in the crop the recogniser saw.
        crop: the uint8 crop (gray or BGR) in the page's pixels, unprocessed: its ink places the boxes.
        quad: the line's 4 page points (tl, tr, br, bl) that ``crop`` was cut from.
        scale_x: crop columns per column of the image the recogniser saw (crop steps may resize).
    """
    from .split import crop_ink

    if not text.strip():
        return []
    if scale_x != 1.0:
        tokens = [Token(t.text, t.score, t.confs, [x * scale_x for x in t.xs], t.kept) for t in tokens]
    gray = crop if crop.ndim == 2 else _gray(crop)
    ink = crop_ink(gray) if min(gray.shape[:2]) >= 2 else np.ones(gray.shape[:2], bool)
    H, W = ink.shape[:2]
    out = []
    for w, confs, rect in crop_words(text, tokens, ink):
        conf = float(np.mean(confs)) if confs else 0.0
        out.append(Word(w, conf, list(confs), crop_rect_to_page(quad, W, H, rect)))
    return out


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def line_page(recognizer, image: np.ndarray, decoded, steps: int, total_time_ms: float = 0.0):
    """A one-line :class:`~tinycrnn.page.pipeline.PageResult` for ``--line`` mode: the line box is the
    whole image and the words come from ``decoded``'s CTC spans.

    Args:
        recognizer: the :class:`~tinycrnn.Recognizer` that read ``image`` (its preprocessing fixes the
            step -> column scale).
        image: the uint8 line image as loaded by ``recognizer.load``.
        decoded: the :class:`~tinycrnn.decode.Decoded` it returned (spans in time steps).
        steps: the number of time steps of the probabilities ``decoded`` came from.
    """
    from .pipeline import PageLine, PageResult

    h, w = image.shape[:2]
    quad = [[0.0, 0.0], [float(w), 0.0], [float(w), float(h)], [0.0, float(h)]]
    xs = None
    spec = recognizer.spec
    if decoded.spans and len(decoded.spans) == len(decoded.text) and not (spec.tall == "easyocr" and w < h):
        x, width = recognizer.prepare(image)
        cols_per_step = width / float(steps) * w / float(x.shape[2])
        xs = [(s + e) / 2.0 * cols_per_step for s, e in decoded.spans]
    confs = list(decoded.char_confidences)
    toks = tokens_of(decoded.text, confs, xs)
    text = " ".join(t.text for t in toks)
    line = PageLine(text, float(decoded.confidence), quad, line_words(text, toks, image, quad))
    return PageResult([line] if text else [], total_time_ms, {}, w, h, 0.0)

