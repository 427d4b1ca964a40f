"""Run a recogniser (or a page reader) over a dataset and score it with a protocol.

The page path is a hook: it scores any object with ``read(image) -> lines`` where each line
has ``.text`` and ``.box`` (4 points), i.e. ``tinycrnn.OCR(model=...)`` once the page
pipeline exists. Until then page datasets are scored on their annotated line crops.
"""
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..errors import ImageError
from .datasets import Dataset, LineItem, crop_lines
from .metrics import Confusions, PageScore, cer, edit_distance, normalize, prf, score_page
from .progress import Progress

#: Lines loaded and recognised per chunk (the Recognizer batches equal padded widths within it).
CHUNK = 32


@dataclass
class EvalResult:
    """What :func:`evaluate` returns: a JSON-able ``summary`` and per-item ``records``."""

    dataset: str
    protocol: str
    summary: Dict[str, Any]
    records: List[Dict[str, Any]] = field(default_factory=list)


def get_page_reader(recognizer: Any, detector: str = "auto") -> Optional[Any]:
    """The page pipeline ``tinycrnn.OCR(model=recognizer, detector=detector)``, or ``None`` where it does not exist."""
    import tinycrnn

    try:
        ocr_cls = getattr(tinycrnn, "OCR")
    except (AttributeError, ImportError):
        return None
    return ocr_cls(model=recognizer, detector=detector)


def _score_lines(name: str, protocol: str, rows: List[Dict[str, Any]], seconds: float, errors: List[str]) -> EvalResult:
    conf = Confusions()
    groups: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for r in rows:
        ref, hyp = normalize(r["label"], protocol), normalize(r["prediction"], protocol)
        r["correct"] = ref == hyp
        r["edit_distance"] = edit_distance(ref, hyp)
        r["ref_length"] = len(ref)
        conf.add(ref, hyp)
        groups[r["path"].replace("\\", "/").split("/")[0] if "/" in r["path"] else "."].append(r)

    def stats(rs):
        n = len(rs)
        total = sum(r["ref_length"] for r in rs)
        dist = sum(r["edit_distance"] for r in rs)
        return {"n": n, "correct": sum(r["correct"] for r in rs),
                "accuracy": 100.0 * sum(r["correct"] for r in rs) / n if n else 0.0,
                "raw_accuracy": 100.0 * sum(r["label"] == r["prediction"] for r in rs) / n if n else 0.0,
                "cer": dist / total if total else 0.0}

    summary = {"dataset": name, "protocol": protocol, **stats(rows), "seconds": seconds,
               "ms_per_item": 1000.0 * seconds / len(rows) if rows else 0.0,
               "unreadable": len(errors), "unreadable_first": errors[:3], "confusions": conf.summary()}
    if len(groups) > 1:
        summary["groups"] = {g: stats(rs) for g, rs in sorted(groups.items())}
    return EvalResult(name, protocol, summary, rows)


def _recognise(rec, named_images: List[tuple], progress: Progress, errors: List[str]) -> List[Dict[str, Any]]:
    """``named_images``: ``(rel, source, label)`` where source is a path or an array."""
    rows = []
    for start in range(0, len(named_images), CHUNK):
        chunk = named_images[start:start + CHUNK]
        loaded, ok = [], []
        for rel, src, label in chunk:
            try:
                loaded.append(rec.load(src))
                ok.append(True)
            except ImageError as exc:
                errors.append(f"{rel}: {exc}")
                ok.append(False)
        results = iter(rec.recognize_batch(loaded)) if loaded else iter(())
        for (rel, _, label), good in zip(chunk, ok):
            res = next(results) if good else None
            rows.append({"path": rel, "label": label, "prediction": res.text if res else "",
                         "confidence": float(res.confidence) if res else 0.0})
        progress.update(len(chunk))
    return rows


def evaluate_lines(ds: Dataset, rec, protocol: str, limit: Optional[int] = None, progress: bool = True) -> EvalResult:
    """Recognise every line of a ``labels.tsv`` dataset and score it."""
    items: List[LineItem] = ds.items[:limit] if limit else ds.items
    errors: List[str] = []
    t0 = time.perf_counter()
    with Progress(len(items), ds.name, enabled=progress) as bar:
        rows = _recognise(rec, [(it.rel, it.path, it.text) for it in items], bar, errors)
    return _score_lines(ds.name, protocol, rows, time.perf_counter() - t0, errors)


def evaluate_page_crops(ds: Dataset, rec, protocol: str = "line", limit: Optional[int] = None,
                        progress: bool = True) -> EvalResult:
    """Score a page dataset line by line on its annotated boxes (recognition only, no detection)."""
    pages = ds.items[:limit] if limit else ds.items
    named, errors = [], []
    for page in pages:
        try:
            img = rec.load(page.path)
        except ImageError as exc:
            errors.append(f"{page.rel}: {exc}")
            continue
        named += [(f"{page.rel}#{k}", crop, text) for k, (crop, text) in enumerate(crop_lines(img, page))]
    if not named:
        from ..errors import DatasetError

        raise DatasetError(f"{ds.name}: no annotated line boxes to crop (boxes are null); a page reader is needed")
    t0 = time.perf_counter()
    with Progress(len(named), f"{ds.name} (line crops)", enabled=progress) as bar:
        rows = _recognise(rec, named, bar, errors)
    res = _score_lines(ds.name, protocol, rows, time.perf_counter() - t0, errors)
    res.summary["source"] = "annotated line crops of the pages"
    return res


def evaluate_pages(ds: Dataset, reader, limit: Optional[int] = None, progress: bool = True,
                   iou_threshold: float = 0.5) -> EvalResult:
    """Score a page reader (``reader.read(image)`` -> lines with ``.text`` and ``.box``) on a
    page dataset: line detection P/R/F1 (IoU >= ``iou_threshold``, one-to-one), page-token
    P/R/F1 (case-insensitive whitespace tokens, multiset) pooled over pages and averaged per
    page, CER over matched lines, and page CER (every line joined by spaces, in the order
    given; line normalisation)."""
    pages = ds.items[:limit] if limit else ds.items
    scores: List[PageScore] = []
    records, secs, page_pairs = [], [], []
    t0 = time.perf_counter()
    with Progress(len(pages), ds.name, enabled=progress) as bar:
        for page in pages:
            t = time.perf_counter()
            out = reader.read(page.path)
            secs.append(time.perf_counter() - t)
            lines = getattr(out, "lines", out)  # tinycrnn.OCR returns a PageResult; a plain list works too
            pred = [(getattr(ln, "box", None), ln.text) for ln in lines]
            page_pairs.append((normalize(" ".join(ln.text for ln in page.lines), "line"),
                               normalize(" ".join(t for _, t in pred), "line")))
            s = score_page(pred, [(ln.box, ln.text) for ln in page.lines], iou_threshold)
            scores.append(s)
            det_page = s.detection if s.has_boxes else ("", "", "")
            records.append({"path": page.rel, "gt_lines": s.n_gt, "pred_lines": s.n_pred,
                            "det_p": det_page[0], "det_r": det_page[1], "det_f1": det_page[2],
                            "tok_p": s.tokens[0], "tok_r": s.tokens[1], "tok_f1": s.tokens[2],
                            "seconds": secs[-1]})
            bar.update(1)
    boxed = [s for s in scores if s.has_boxes]
    det = prf(sum(s.det_tp for s in boxed), sum(s.n_pred for s in boxed), sum(s.n_gt for s in boxed)) \
        if boxed else (None, None, None)  # text-only ground truth: detection is not scored
    tok = prf(sum(s.tok_tp for s in scores), sum(s.tok_pred for s in scores), sum(s.tok_gt for s in scores))
    pairs = [(normalize(g, "line"), normalize(p, "line")) for s in scores for g, p in s.matched_pairs]
    total = sum(len(g) for g, _ in pairs)
    n = len(scores)
    summary = {
        "dataset": ds.name, "protocol": "page", "n": n,
        "det_precision": det[0], "det_recall": det[1], "det_f1": det[2],
        "token_precision": tok[0], "token_recall": tok[1], "token_f1": tok[2],
        "token_f1_page_mean": sum(s.tokens[2] for s in scores) / n if n else 0.0,
        "matched_line_cer": sum(edit_distance(g, p) for g, p in pairs) / total if total else None,
        "page_cer": cer(page_pairs),
        "seconds": time.perf_counter() - t0, "median_s_per_page": statistics.median(secs) if secs else 0.0,
        "iou_threshold": iou_threshold,
    }
    return EvalResult(ds.name, "page", summary, records)
