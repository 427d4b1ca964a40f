"""The words of a read page with their page boxes, for text layers (searchable PDF, OCRmyPDF).

Why a function of its own: the page reader gives each line its words (``PageLine.words``, boxes from the CTC
character positions); a line without them (results built by hand, older pickles) is split here by character
count along its box, so every writer places text word by word either way.
"""
from typing import List, Sequence, Tuple

import numpy as np

#: A word: text and 4 [x, y] corners in page pixels, clockwise from the top-left.
PlacedWord = Tuple[str, List[List[float]]]


def line_words(line) -> List[PlacedWord]:
    """The words of one ``PageLine``: its own ``words`` when it has them, else its box split by character count
    (each character, spaces included, takes an equal share of the box's length)."""
    words = getattr(line, "words", None) or []
    if words:
        return [(w.text, [list(map(float, p)) for p in w.box]) for w in words if w.text.strip()]
    return split_box(line.text, line.box)


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
