"""Small marks and word rows for the classical line detector (:class:`~.detect.LineDetector`).

Colons and full stops printed smaller than the speck filter are recovered (:func:`add_small_marks`),
a lone colon between a label and its value is joined to the nearer box of its row (:func:`attach_marks`),
and a row of prose split at its word spaces is joined back into one line (:func:`join_word_rows`).
"""
from typing import List

import numpy as np

#: More dot-sized components than this on one page is speckle noise: :func:`add_small_marks` leaves it alone.
MAX_DOTS = 20000


def _dots(stats: np.ndarray, char_h: float) -> np.ndarray:
    """Indices of components shaped like one dot of a ``:`` or ``.``: small, compact, at least 2x2 pixels."""
    w, h, a = stats[:, 2], stats[:, 3], stats[:, 4]  # cv2.CC_STAT_WIDTH, HEIGHT, AREA
    big = max(2.0, 0.3 * char_h)
    ok = (w >= 2) & (h >= 2) & (w <= big) & (h <= big) & (a >= 3) & (a >= 0.5 * w * h) & (w <= 2 * h) & (h <= 2 * w)
    ok[0] = False
    return np.flatnonzero(ok)


def _clear_around(clean: np.ndarray, x0: int, y0: int, x1: int, y1: int, char_h: float) -> bool:
    """No ink in columns ``[x0, x1)`` for 0.3 text heights above and below rows ``[y0, y1)``.

    A colon stands alone in its column; two stacked dots with ink right above or below are
    pieces of dot-matrix letters or noise between rows.
    """
    m = max(1, int(round(0.3 * char_h)))
    cols = clean[:, max(0, x0 - 1) : x1 + 1]
    return not (cols[max(0, y0 - m) : y0].any() or cols[y1 : y1 + m].any())


def _label_left(clean: np.ndarray, x0: int, y0: int, y1: int, char_h: float) -> bool:
    """Ink spanning rows ``[y0, y1)`` within 1.5 text heights left of column ``x0``: a colon ends a label.

    Without this, pairs of specks in a noisy margin were joined to the next line and widened its box.
    """
    top = max(0, y0 - int(0.5 * char_h))
    win = clean[top : y1 + int(0.3 * char_h), max(0, x0 - int(1.5 * char_h)) : x0]
    rows = np.flatnonzero(win.any(axis=1))
    return bool(rows.size) and rows[0] <= y0 - top and rows[-1] >= y1 - top - 2


def _full_stop(clean: np.ndarray, x0: int, y1: int, char_h: float) -> bool:
    """Letter-tall ink just left of column ``x0`` (within 0.4 text heights) whose bottom is level with row ``y1``."""
    reach = max(2, int(round(0.4 * char_h)))
    left = clean[max(0, y1 - int(char_h)) : y1, max(0, x0 - reach) : x0]
    rows = np.flatnonzero(left.any(axis=1))
    return bool(rows.size) and rows[-1] >= left.shape[0] - 1 - 0.15 * char_h and rows[-1] - rows[0] >= 0.5 * char_h


def add_small_marks(clean: np.ndarray, stats: np.ndarray, keep: np.ndarray, char_h: float) -> np.ndarray:
    """Put back ``:`` and ``.`` marks whose dots the speck filter dropped or the line linking misses.

    Why: thin fonts print a colon as two dots ~0.15 text heights wide with a gap wider than the
    vertical closing; the dots were dropped as specks (or kept, but too low to make a box), losing
    the ``:`` of ``PAYMENT :`` / ``ROUNDING :`` and the ``.`` of ``REG NO.`` (27 ``:`` tokens missed
    on the SROIE dev receipts). Two similar dots stacked less than 0.7 text heights apart, alone in
    their columns and ending a label, are painted as one bar, so the colon links to its label or is
    joined by :func:`attach_marks`. A dropped lone dot comes back only as a full stop after a letter.
    """
    dots = _dots(stats, char_h)
    if dots.size == 0 or dots.size > MAX_DOTS:
        return clean  # NOTE: tens of thousands of dots are speckle noise, not punctuation; pairing them would take minutes
    out = clean.copy()
    x, y, w, h, a = (stats[dots, k].astype(np.int64) for k in range(5))
    cx = x + w / 2.0
    # partners share a column (|cx_i - cx_j| <= half the wider dot <= 0.15 text heights): bucket by column
    col = np.floor(cx / max(1.0, 0.15 * char_h)).astype(np.int64)
    buckets = {}
    for k in np.argsort(y, kind="stable"):
        buckets.setdefault(int(col[k]), []).append(int(k))
    paired = set()
    for i in np.argsort(y, kind="stable"):
        if i in paired:
            continue
        near = sorted((j for c in (col[i] - 1, col[i], col[i] + 1) for j in buckets.get(int(c), ()) if y[j] > y[i]),
                      key=lambda j: y[j])
        for j in near:
            gap = y[j] - (y[i] + h[i])
            if gap > 0.7 * char_h:
                break
            if (j in paired or gap < 0.1 * char_h or abs(cx[i] - cx[j]) > 0.5 * max(w[i], w[j])
                    or max(a[i], a[j]) > 2.5 * min(a[i], a[j]) or y[j] + h[j] - y[i] > char_h):
                continue
            x0, x1, y0, y1 = min(x[i], x[j]), max(x[i] + w[i], x[j] + w[j]), y[i], y[j] + h[j]
            if _clear_around(clean, x0, y0, x1, y1, char_h) and _label_left(clean, x0, y0, y1, char_h):
                out[y0:y1, x0:x1] = 255
                paired.update((int(i), j))
                break
    for k in range(dots.size):
        if k not in paired and not keep[dots[k]] and _full_stop(clean, x[k], y[k] + h[k], char_h):
            out[y[k] : y[k] + h[k], x[k] : x[k] + w[k]] = 255
    return out


def join_word_rows(rects, char_h: float, word_gap: float):
    """Join the boxes of a row into one line when the row is running text split at its word spaces.

    Why: on a 300-dpi page of prose the word spaces can be wider than the horizontal closing
    (``gap`` text heights, kept small so receipt columns stay apart), and every word became its own
    "line" (the Tesseract ``eurotext`` page read as 65 one-word lines). A row of at least three boxes
    of similar height with every gap under ``word_gap`` text heights is prose; a receipt row keeps at
    least one column gap wider than that and is left alone.
    """
    if len(rects) < 3:
        return rects
    order = sorted(range(len(rects)), key=lambda i: (rects[i][1] + rects[i][3]) / 2.0)
    rows: List[List[int]] = []
    for i in order:
        r = rects[i]
        h = r[3] - r[1]
        if rows:
            ref = rects[rows[-1][0]]
            rh = ref[3] - ref[1]
            ov = min(r[3], ref[3]) - max(r[1], ref[1])
            if ov > 0.6 * min(h, rh) and max(h, rh) < 1.5 * min(h, rh):
                rows[-1].append(i)
                continue
        rows.append([i])
    out = []
    for row in rows:
        row.sort(key=lambda i: rects[i][0])
        gaps = [rects[b][0] - rects[a][2] for a, b in zip(row, row[1:])]
        if len(row) >= 3 and max(gaps) < word_gap * char_h and min(gaps) > -0.5 * char_h:
            box = [rects[i] for i in row]
            out.append((min(b[0] for b in box), min(b[1] for b in box), max(b[2] for b in box), max(b[3] for b in box)))
        else:
            out += [rects[i] for i in row]
    return out


def attach_marks(rects, char_h: float, reach: float, pad_scale: float):
    """Join lone narrow marks (a ``:`` standing between a label and its value) to their row's nearest box.

    Why: a colon alone is narrower than the plausibility filter allows and was dropped, losing a
    token each time (``SALESPERSON :`` read as ``SALESPERSON``; 26 ``:`` tokens on the SROIE dev
    receipts), and read on its own the recogniser often calls it ``1``. Receipts print the colon
    closer to one side; joining it to the nearer neighbour within ``reach`` text heights keeps it.
    ``pad_scale`` is the boxes' height over their ink height (their vertical margins).
    """
    if reach <= 0 or len(rects) < 2:
        return rects
    pad = 0.15 * char_h
    # NOTE: lower than a capital (a lone '1' of a quantity column is a full-height glyph and stays alone)
    marks = [i for i, r in enumerate(rects) if r[2] - r[0] - 2 * pad < 0.45 * char_h and (r[3] - r[1]) / pad_scale < 0.85 * char_h]
    if not marks:
        return rects
    is_mark = set(marks)
    out = [list(r) for r in rects]
    gone = set()
    for i in marks:
        m = rects[i]
        best, best_d = None, reach * char_h
        for j, r in enumerate(rects):
            if j in is_mark or j in gone:
                continue
            ov = min(m[3], r[3]) - max(m[1], r[1])
            if ov < 0.6 * (m[3] - m[1]):
                continue
            d = max(r[0] - m[2], m[0] - r[2], 0.0)
            if d < best_d:
                best, best_d = j, d
        if best is not None:
            b = out[best]
            b[0], b[2] = min(b[0], m[0]), max(b[2], m[2])
            gone.add(i)
    return [tuple(r) for k, r in enumerate(out) if k not in gone]
