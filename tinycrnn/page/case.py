"""Letter case and word spaces of page lines, taken from a second, case-aware reading.

Why: PP-OCRv2, the page model, reads English letter by letter better than english_g2 but not its
case: it prints mixed-case prose in capitals at random (``THE qUICK BROWN DOG``) and runs the words
of proportional fonts together (``NasiLemak``). english_g2 gets case and word spaces right and more
letters wrong. So a line whose glyph heights show lower-case letters is read again with the case
model, the two readings are aligned case-insensitively, and the case model's case and word spaces
are copied onto the characters both readings agree on; the page model's characters stay. Only pages
whose lines are mostly lower case are read again (:data:`PAGE_SHARE`), so receipts cost nothing. On
the Tesseract test pages case-sensitive CER goes from 0.74 to 0.01 (phototest) and 0.36 to 0.03
(eurotext): ``python -m benchmarks.eval_prose``.
"""
import difflib
import re
from typing import List, Tuple

import numpy as np

from .split import Glyphs

#: A line is read again when at least this share of its glyph-height components is shorter than
#: ``SHORT`` x the line's tall glyphs (x-height letters next to capitals, digits and ascenders).
LOWER_SHARE = 0.25
SHORT = 0.8
#: Only pages where at least this share of the lines with letters show lower case are read again:
#: documents and prose, not receipts. On the SROIE dev receipts at most 72% of a page's lines do,
#: english_g2's case on receipt fonts is noisy (``ToTal``), and re-reading every lower-case line there
#: took token F1 0.905 -> 0.899 and the median page 0.49 -> 0.71 s (``eval_pages --case-share 0``).
PAGE_SHARE = 0.8


def has_lowercase(crop: np.ndarray) -> bool:
    """Whether a line crop (uint8 gray or BGR) shows lower-case letters: glyphs of two heights."""
    if crop.ndim < 2 or min(crop.shape[:2]) < 8:
        return False
    g = Glyphs(crop)
    h = g.h[g.tall]
    if h.size < 3:
        return False
    return float((h < SHORT * np.percentile(h, 90)).mean()) >= LOWER_SHARE


def _letters(text: str) -> Tuple[str, List[int]]:
    """``text`` without spaces, and for each kept character the number of spaces before it."""
    chars, gaps, run = [], [], 0
    for ch in text:
        if ch.isspace():
            run += 1
        else:
            chars.append(ch)
            gaps.append(run)
            run = 0
    return "".join(chars), gaps


def merge_case(text: str, cased: str) -> str:
    """``text`` with the letter case and missing word spaces of ``cased``, where the readings agree.

    Characters of ``text`` are never changed except in case, nor dropped. Letters matched to the same
    letter of ``cased`` (case-insensitively) take its case, and each run of letters then takes one
    shape (all capitals, or the first letter as read and the rest lower case: ``ToTal`` -> ``Total``).
    A space is only ever added: between two characters that stand for neighbours of ``cased`` (the
    same character, or one misread for one) with a space between them there, and only before a letter
    that follows a letter or ``,;:!?``.

    >>> merge_case("THE qUICK BROWN DOG", "The quick brown dog")
    'The quick brown dog'
    >>> merge_case("Thankyou,comeagain", "Thank you; come again")
    'Thank you, come again'
    >>> merge_case("TOTAL 12.40 GST", "ToTal I2.4O GST")
    'Total 12.40 GST'
    """
    a, a_gaps = _letters(text)
    b, b_gaps = _letters(cased)
    if not a or not b:
        return " ".join(text.split())
    pair = [-1] * len(a)  # the character of ``cased`` each one stands for: same letter, or a 1:1 misread
    same = [False] * len(a)
    sm = difflib.SequenceMatcher(None, a.lower(), b.lower(), autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                pair[i1 + k] = j1 + k
                same[i1 + k] = op == "equal"
    words: List[str] = []
    for i, ch in enumerate(a):
        j = pair[i]
        space = a_gaps[i] > 0 or (i > 0 and j > 0 and pair[i - 1] == j - 1 and b_gaps[j] > 0
                                  and ch.isalpha() and (a[i - 1].isalpha() or a[i - 1] in ",;:!?"))
        if space or not words:
            words.append("")
        words[-1] += b[j] if same[i] and ch.isalpha() else ch
    return " ".join(_one_shape(w) for w in words)


def _one_shape(word: str) -> str:
    """Each run of letters in capitals, or its first letter as it is and the rest lower case,
    whichever most of its letters after the first show (``ToTal`` -> ``Total``, ``Tax(RM)`` stays)."""
    return re.sub(r"[^\W\d_]{2,}", lambda m: _shape(m.group()), word)


def _shape(run: str) -> str:
    rest = run[1:]
    if sum(ch.isupper() for ch in rest) * 2 > len(rest):
        return run.upper()
    return run[0] + rest.lower()
