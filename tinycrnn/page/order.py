"""Reading order for line boxes: top-to-bottom, and columns left-to-right.

A recursive XY-cut: a block is first cut into columns at a vertical gutter when both sides
look like running text (several lines of prose width, not a column of prices), then into
bands at paragraph-sized horizontal gaps; what is left is read row by row, left to right.
Receipts therefore read row-wise (``TOTAL  12.00``), two-column pages column by column.
"""
from typing import List, Sequence

import numpy as np


def _rows(idx: List[int], r: np.ndarray) -> List[int]:
    """Row-wise order: lines whose vertical centres fall within each other's extent share a row."""
    idx = sorted(idx, key=lambda i: (r[i, 1] + r[i, 3]) / 2.0)
    rows: List[List[int]] = []
    for i in idx:
        cy = (r[i, 1] + r[i, 3]) / 2.0
        if rows:
            last = rows[-1]
            top = np.median([r[j, 1] for j in last])
            bottom = np.median([r[j, 3] for j in last])
            h = min(bottom - top, r[i, 3] - r[i, 1])
            if cy < bottom and (min(bottom, r[i, 3]) - max(top, r[i, 1])) > 0.5 * h:
                last.append(i)
                continue
        rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda j: r[j, 0])]


def _gaps(lo: np.ndarray, hi: np.ndarray, idx: List[int], min_gap: float):
    """Cuts along one axis where no box of ``idx`` spans: list of (position, gap width, left set, right set)."""
    order = sorted(idx, key=lambda i: lo[i])
    cuts, reach = [], hi[order[0]]
    for k in range(1, len(order)):
        i = order[k]
        if lo[i] - reach >= min_gap:
            cuts.append(((reach + lo[i]) / 2.0, lo[i] - reach, order[:k], order[k:]))
        reach = max(reach, hi[i])
    return cuts


def _prose(idx: List[int], r: np.ndarray, char_h: float) -> bool:
    widths = r[idx, 2] - r[idx, 0]
    return len(idx) >= 3 and float(np.median(widths)) >= 8 * char_h


def _xy(idx: List[int], r: np.ndarray, char_h: float, depth: int) -> List[int]:
    if len(idx) <= 1 or depth > 50:
        return list(idx)
    for pos, gap, left, right in sorted(_gaps(r[:, 0], r[:, 2], idx, 1.5 * char_h), key=lambda c: -c[1]):
        if _prose(left, r, char_h) and _prose(right, r, char_h):
            return _xy(left, r, char_h, depth + 1) + _xy(right, r, char_h, depth + 1)
    bands = _gaps(r[:, 1], r[:, 3], idx, 1.0 * char_h)
    if bands:
        out: List[int] = []
        done: set = set()
        for _, _, above, _ in bands + [(0, 0, idx, [])]:
            group = [i for i in above if i not in done]
            done.update(group)
            out += _xy(group, r, char_h, depth + 1)
        return out
    return _rows(idx, r)


def reading_order(rects: Sequence[Sequence[float]]) -> List[int]:
    """Indices of axis-aligned rectangles ``(x0, y0, x1, y1)`` in reading order."""
    if len(rects) == 0:
        return []
    r = np.asarray(rects, np.float64).reshape(-1, 4)
    char_h = float(np.median(r[:, 3] - r[:, 1]))
    return _xy(list(range(len(r))), r, max(char_h, 1.0), 0)
