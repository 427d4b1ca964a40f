"""The words of a read page with their page boxes, for text layers (searchable PDF, OCRmyPDF).

Why a function of its own: the page reader gives each line its words (``PageLine.words``, boxes from the CTC
character positions); a line without them (results built by hand, older pickles) is split here by character
count along its box, so every writer places text word by word either way.
"""
from typing import List, Sequence, Tuple

import numpy as np

#: A word: text and 4 [x, y] corners in page pixels, clockwise from the top-left.
PlacedWord = Tuple[str, List[List[float]]]
#: Neighbouring words of a line are kept at least this fraction of their height apart. Text extractors
#: (poppler's pdftotext, PDF viewers' copy) split words on gaps, not on space characters: poppler breaks
#: at 0.1 em, so two boxes that touch read as one word ("TINYMART").
MIN_GAP = 0.2


def line_words(line) -> List[PlacedWord]:
    """The words of one ``PageLine``: its own ``words`` when it has them, else its box split by character count
    (each character, spaces included, takes an equal share of the box's length)."""
    words = getattr(line, "words", None) or []
    if words:
        return separate([(w.text, [list(map(float, p)) for p in w.box]) for w in words if w.text.strip()])
    return separate(split_box(line.text, line.box))


def separate(words: List[PlacedWord], min_gap: float = MIN_GAP) -> List[PlacedWord]:
    """``words`` of one line (left to right) with overlapping or touching neighbours pulled apart at their
    midpoint until ``min_gap`` x height lies between them; no word loses more than a quarter of its length."""
    if len(words) < 2:
        return words
    boxes = [np.asarray(b, np.float64).reshape(4, 2) for _, b in words]
    for k in range(len(boxes) - 1):
        left, right = boxes[k], boxes[k + 1]
        u = left[1] - left[0]
        length = float(np.hypot(*u))
        if length < 1e-6:
            continue
        u = u / length
        end = float(min(left[1] @ u, left[2] @ u))
        start = float(max(right[0] @ u, right[3] @ u))
        gap = min_gap * float(np.hypot(*(left[3] - left[0])) + np.hypot(*(right[3] - right[0]))) / 2.0
        if start - end >= gap:
            continue
        mid = (start + end) / 2.0
        cut_left = min(end - (mid - gap / 2.0), 0.25 * length)
        r_len = float(np.hypot(*(right[1] - right[0])))
        cut_right = min((mid + gap / 2.0) - start, 0.25 * r_len)
        left[[1, 2]] -= cut_left * u
        right[[0, 3]] += cut_right * u
    return [(text, b.tolist()) for (text, _), b in zip(words, boxes)]


def split_box(text: str, box: Sequence[Sequence[float]]) -> List[PlacedWord]:
    """``text``'s whitespace-separated words, each given the slice of ``box`` (4 corners, clockwise from the
    top-left) its characters take when every character of ``text`` is equally wide."""
    b = np.asarray(box, np.float64).reshape(-1, 2)
    n = len(text)
    if n == 0 or b.shape[0] != 4:
        return []
    tl, tr, br, bl = b
    out: List[PlacedWord] = []
    i = 0
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        a, z = i / n, j / n
        out.append((text[i:j], [(tl + (tr - tl) * a).tolist(), (tl + (tr - tl) * z).tolist(),
                                (bl + (br - bl) * z).tolist(), (bl + (br - bl) * a).tolist()]))
        i = j
    return out


def page_words(result) -> List[PlacedWord]:
    """Every word of a ``PageResult`` in reading order."""
    return [w for line in result.lines for w in line_words(line)]
