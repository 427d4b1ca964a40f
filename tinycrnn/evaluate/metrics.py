"""Scoring rules for ``tinycrnn eval``: per-protocol normalisation, edit distance with its
alignment, CER, the substitution summary, and page metrics (line-box matching, page tokens).

Pure Python + NumPy-free: nothing here runs a model.
"""
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

#: word = scene-text standard (lower-case, keep [0-9a-z]); line = case-insensitive, whitespace
#: collapsed; zh = zh_lines README (NFKC, no whitespace, no U+00B7); page = page tokens.
PROTOCOLS = ("word", "line", "zh", "page")

_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_SPACE = re.compile(r"\s+")


def normalize(text: str, protocol: str) -> str:
    """Normalise a label or a prediction the way ``protocol`` compares them.

    Args:
        text: the raw string.
        protocol: ``"word"``: lower-case, drop every character outside ``[0-9a-z]``;
            ``"line"`` / ``"page"``: lower-case, runs of whitespace -> one space, ends stripped;
            ``"zh"``: NFKC, delete all whitespace and ``·`` (U+00B7).

    Example:
        >>> normalize("Café-42!", "word"), normalize("  TOTAL   RM 5.00 ", "line")
        ('caf42', 'total rm 5.00')
    """
    if protocol == "word":
        return _NOT_ALNUM.sub("", text.lower())
    if protocol in ("line", "page"):
        return _SPACE.sub(" ", text.lower()).strip()
    if protocol == "zh":
        return _SPACE.sub("", unicodedata.normalize("NFKC", text)).replace("\u00b7", "")
    from ..errors import DatasetError

    raise DatasetError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def edit_ops(ref: str, hyp: str) -> List[Tuple[str, str, str]]:
    """A minimum-cost Levenshtein alignment of ``hyp`` against ``ref``.

    Returns:
        ``(op, ref_char, hyp_char)`` in order; op is ``"="`` (match), ``"S"`` (substitution),
        ``"D"`` (ref char deleted, hyp_char ``""``) or ``"I"`` (hyp char inserted, ref_char ``""``).
        Ties prefer a substitution, then a deletion, so ``AB``/``XB`` aligns A->X.
    """
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        ri, row, prev = ref[i - 1], d[i], d[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (ri != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
    ops = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "S", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            ops.append(("D", ref[i - 1], ""))
            i -= 1
        else:
            ops.append(("I", "", hyp[j - 1]))
            j -= 1
    return ops[::-1]


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance (unit costs)."""
    if ref == hyp:
        return 0
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i]
        for j, hc in enumerate(hyp, 1):
            cur.append(min(prev[j - 1] + (rc != hc), prev[j] + 1, cur[j - 1] + 1))
        prev = cur
    return prev[-1]


def cer(pairs: Iterable[Tuple[str, str]]) -> float:
    """Character error rate: total edit distance over total reference length, on ``(ref, hyp)`` pairs.

    An empty total reference gives 0.0 when every hypothesis is empty too, else ``inf``.
    """
    dist = total = 0
    for ref, hyp in pairs:
        dist += edit_distance(ref, hyp)
        total += len(ref)
    if total == 0:
        return 0.0 if dist == 0 else float("inf")
    return dist / total


@dataclass
class Confusions:
    """Character confusions collected from edit alignments (``ref -> hyp``)."""

    substitutions: Counter = field(default_factory=Counter)
    deletions: Counter = field(default_factory=Counter)
    insertions: Counter = field(default_factory=Counter)

    def add(self, ref: str, hyp: str) -> None:
        for op, r, h in edit_ops(ref, hyp):
            if op == "S":
                self.substitutions[(r, h)] += 1
            elif op == "D":
                self.deletions[r] += 1
            elif op == "I":
                self.insertions[h] += 1

    def summary(self, top: int = 8) -> Dict[str, List]:
        """The ``top`` most frequent substitutions, deletions and insertions (ties by character order)."""
        def best(counter):
            return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

        return {
            "substitutions": [[r, h, n] for (r, h), n in best(self.substitutions)],
            "deletions": [[r, n] for r, n in best(self.deletions)],
            "insertions": [[h, n] for h, n in best(self.insertions)],
        }


# --- pages: line boxes and page tokens ---------------------------------------------------------

Point = Tuple[float, float]


def as_polygon(box: Sequence) -> List[Point]:
    """A box as a list of (x, y) vertices: accepts 8 numbers ``[x1,y1,...,x4,y4]``, 4 pairs, or
    an axis-aligned ``[x0, y0, x1, y1]``."""
    flat = [float(v) for pt in box for v in (pt if isinstance(pt, (list, tuple)) or hasattr(pt, "__len__") else [pt])]
    if len(flat) == 4:
        x0, y0, x1, y1 = flat
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if len(flat) < 6 or len(flat) % 2:
        from ..errors import DatasetError

        raise DatasetError(f"a box needs 4 points (8 numbers) or [x0, y0, x1, y1], got {len(flat)} numbers")
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _area(poly: Sequence[Point]) -> float:
    s = 0.0
    for (x1, y1), (x2, y2) in zip(poly, list(poly[1:]) + [poly[0]]):
        s += x1 * y2 - x2 * y1
    return s / 2.0


def _ccw(poly: List[Point]) -> List[Point]:
    return poly if _area(poly) >= 0 else poly[::-1]


def _clip(subject: List[Point], clip: List[Point]) -> List[Point]:
    """Sutherland-Hodgman: ``subject`` clipped by the convex, counter-clockwise ``clip``."""
    out = subject
    for (ax, ay), (bx, by) in zip(clip, clip[1:] + clip[:1]):
        if not out:
            break
        inp, out = out, []

        def inside(p):
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) >= 0

        def cross(p, q):
            dx, dy = q[0] - p[0], q[1] - p[1]
            den = (bx - ax) * dy - (by - ay) * dx
            if den == 0:
                return q
            t = ((ax - p[0]) * (by - ay) - (ay - p[1]) * (bx - ax)) / -den
            return (p[0] + t * dx, p[1] + t * dy)

        for k, cur in enumerate(inp):
            prev = inp[k - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
    return out


def box_iou(a: Sequence, b: Sequence) -> float:
    """Intersection over union of two convex quadrilaterals (any vertex order direction)."""
    pa, pb = _ccw(as_polygon(a)), _ccw(as_polygon(b))
    area_a, area_b = _area(pa), _area(pb)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter = _clip(pa, pb)
    ia = abs(_area(inter)) if len(inter) >= 3 else 0.0
    union = area_a + area_b - ia
    return ia / union if union > 0 else 0.0


def match_boxes(pred: Sequence, gt: Sequence, iou_threshold: float = 0.5) -> List[Tuple[int, int, float]]:
    """One-to-one matching of predicted to ground-truth boxes: pairs with IoU >= threshold,
    taken greedily by decreasing IoU (ties: lower gt index, then lower pred index).

    Returns:
        ``(pred_index, gt_index, iou)`` for every match.
    """
    cands = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            iou = box_iou(p, g)
            if iou >= iou_threshold:
                cands.append((-iou, j, i))
    cands.sort()
    used_p, used_g, out = set(), set(), []
    for neg, j, i in cands:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            out.append((i, j, -neg))
    return out


def prf(tp: int, n_pred: int, n_gt: int) -> Tuple[float, float, float]:
    """Precision, recall, F1 from counts (an empty side scores 1.0 only if both are empty)."""
    p = tp / n_pred if n_pred else (1.0 if n_gt == 0 else 0.0)
    r = tp / n_gt if n_gt else (1.0 if n_pred == 0 else 0.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def page_tokens(texts: Iterable[str]) -> Counter:
    """The multiset of case-insensitive whitespace tokens of a page's lines."""
    c: Counter = Counter()
    for t in texts:
        c.update(t.lower().split())
    return c


@dataclass
class PageScore:
    """Counts for one page; sum them over pages for pooled (micro) figures."""

    n_pred: int
    n_gt: int
    det_tp: int
    tok_pred: int
    tok_gt: int
    tok_tp: int
    matched_pairs: List[Tuple[str, str]]
    has_boxes: bool = True  # False: the ground truth has no boxes (text only), detection is not scored

    @property
    def detection(self) -> Tuple[float, float, float]:
        return prf(self.det_tp, self.n_pred, self.n_gt)

    @property
    def tokens(self) -> Tuple[float, float, float]:
        return prf(self.tok_tp, self.tok_pred, self.tok_gt)


def score_page(pred: Sequence[Tuple[Optional[Sequence], str]], gt: Sequence[Tuple[Optional[Sequence], str]],
               iou_threshold: float = 0.5) -> PageScore:
    """Score one page.

    Args:
        pred: predicted lines as ``(box, text)``; box = 4 points or 8 numbers.
        gt: ground-truth lines as ``(box, text)``; a ``None`` box is left out of detection.
        iou_threshold: detection match threshold (one-to-one).

    Returns:
        A :class:`PageScore`: detection counts, page-token counts (multiset intersection of
        case-insensitive whitespace tokens) and the ``(gt_text, pred_text)`` pairs of matched boxes.
    """
    gt_boxed = [(j, b) for j, (b, _) in enumerate(gt) if b is not None]
    pred_boxed = [(i, b) for i, (b, _) in enumerate(pred) if b is not None]
    matches = match_boxes([b for _, b in pred_boxed], [b for _, b in gt_boxed], iou_threshold)
    pairs = [(gt[gt_boxed[j][0]][1], pred[pred_boxed[i][0]][1]) for i, j, _ in matches]
    tp_tokens = page_tokens(t for _, t in pred)
    tg_tokens = page_tokens(t for _, t in gt)
    return PageScore(
        n_pred=len(pred_boxed), n_gt=len(gt_boxed), det_tp=len(matches),
        tok_pred=sum(tp_tokens.values()), tok_gt=sum(tg_tokens.values()),
        tok_tp=sum((tp_tokens & tg_tokens).values()), matched_pairs=pairs,
        has_boxes=bool(gt_boxed) or not gt,
    )
