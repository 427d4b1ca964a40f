"""Whole-page evaluation on the SROIE page format: detection P/R/F1 and page token P/R/F1, with timings.

    python -m benchmarks.eval_pages --model ppocrv2_zh     # one thread (benchmarks/__init__.py)
    python -m benchmarks.eval_pages --model ort:ppocrv2   # onnxruntime stand-in (bench extra)
    python -m benchmarks.eval_pages --data ../shared/data/sroie_photo --detector db --half even

Detection: predicted line boxes matched one-to-one to ground-truth boxes at IoU >= 0.5 (greedy by
IoU, axis-aligned bounding rectangles). Tokens: case-insensitive whitespace tokens, multiset match
over the page, micro-averaged over pages. Time: median and mean per page of each stage, one run
after one warm-up page, one thread unless the thread variables say otherwise. Self-contained metric functions (no tinycrnn.evaluate dependency).
"""
import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from typing import Dict, List, Sequence, Tuple

import numpy as np

from benchmarks import pin_opencv
from benchmarks._shared import shared_path

DEFAULT_DATA = os.environ.get("TINYCRNN_SROIE", shared_path("data", "sroie"))


def rect_of(box: Sequence[float]) -> Tuple[float, float, float, float]:
    b = np.asarray(box, np.float64).reshape(-1, 2)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max())


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(pred: List, gt: List, thr: float = 0.5) -> int:
    """One-to-one matches at IoU >= thr, greedy from the highest IoU."""
    cand = sorted(((iou(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gt)), reverse=True)
    used_p, used_g, m = set(), set(), 0
    for v, i, j in cand:
        if v < thr:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        m += 1
    return m


def tokens(text: str) -> Counter:
    return Counter(text.upper().split())


def prf(tp: int, n_pred: int, n_gt: int) -> Tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gt if n_gt else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def progress(i: int, n: int, label: str) -> None:
    bar = "#" * int(30 * i / n)
    sys.stderr.write(f"\r[{bar:<30}] {i}/{n} {label:<20}")
    sys.stderr.flush()
    if i == n:
        sys.stderr.write("\n")


def make_ocr(model: str, **kw):
    import tinycrnn

    if model.startswith("ort:"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _ppocr_ort import OrtRecognizer

        return tinycrnn.OCR(model=OrtRecognizer(), **kw)
    return tinycrnn.OCR(model=model or None, **kw)


class GivenBoxes:
    """A detector that returns the boxes it is given (the annotation's, for ``--oracle-boxes``)."""

    def __init__(self):
        self.boxes: List = []

    def detect(self, image):
        return [np.asarray(b, np.float32).reshape(4, 2) for b in self.boxes]


def make_detector(name: str, **kw):
    """``--detector``: "lines" / "auto" / "db" as OCR takes them; "db" falls back to the onnxruntime
    stand-ins of the DB models (benchmarks/_ppocr_det_ort.py) while the engine does not have them,
    "db-ort" always uses them. DB options (``kw``) go to :class:`tinycrnn.page.db.DBDetector`."""
    from tinycrnn.page.choose import db_installed
    from tinycrnn.page.db import DBDetector

    if name == "db-ort" or (name == "db" and not db_installed()):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _ppocr_det_ort import OrtModel

        return DBDetector(model=OrtModel("ppocrv4_det"), classifier=OrtModel("ppocr_cls"), **kw)
    if name == "db":
        return DBDetector(**kw)
    if kw:
        raise SystemExit("DB options need --detector db or db-ort")
    return name


def select_pages(pages: List, half: str = "", limit: int = 0) -> List:
    """The halves rule: tune on ``even`` pages (0, 2, ...), report ``odd`` ones as held-out-like."""
    if half:
        pages = pages[{"even": 0, "odd": 1}[half]::2]
    return pages[:limit] if limit else pages


def evaluate(ocr, data: str, limit: int = 0, verbose: bool = False, dump: str = "", oracle: bool = False,
             half: str = "", rotate180: bool = False) -> Dict:
    pages = [line.split("\t") for line in open(os.path.join(data, "pages.tsv")).read().splitlines() if line.strip()]
    pages = select_pages(pages, half, limit)
    ocr.read(os.path.join(data, pages[0][0]))  # warm-up (JIT / caches)
    if oracle:
        ocr.detector = GivenBoxes()
    det_tp = det_p = det_g = tok_tp = tok_p = tok_g = 0
    times: Dict[str, List[float]] = {}
    rows = []
    dumped = []
    for k, (img, ann) in enumerate(pages):
        progress(k, len(pages), os.path.basename(img))
        a = json.load(open(os.path.join(data, ann)))
        if oracle:
            ocr.detector.boxes = [line["box"] for line in a["lines"]]
        if rotate180:
            import cv2

            page = cv2.rotate(cv2.imread(os.path.join(data, img)), cv2.ROTATE_180)
            H, W = page.shape[:2]
            for line in a["lines"]:
                line["box"] = [[W - x, H - y] for x, y in np.asarray(line["box"], np.float64).reshape(-1, 2)]
            res = ocr.read(page)
        else:
            res = ocr.read(os.path.join(data, img))
        gt_rects = [rect_of(line["box"]) for line in a["lines"]]
        pr_rects = [rect_of(line.box) for line in res.lines]
        m = match_boxes(pr_rects, gt_rects)
        det_tp, det_p, det_g = det_tp + m, det_p + len(pr_rects), det_g + len(gt_rects)
        gt_tok = tokens(" ".join(line["text"] for line in a["lines"]))
        pr_tok = tokens(" ".join(line.text for line in res.lines))
        t = sum((gt_tok & pr_tok).values())
        tok_tp, tok_p, tok_g = tok_tp + t, tok_p + sum(pr_tok.values()), tok_g + sum(gt_tok.values())
        for key, v in list(res.timings.items()) + [("total", res.total_time_ms)]:
            times.setdefault(key, []).append(v)
        rows.append({"page": img, "lines": len(res.lines), "gt_lines": len(gt_rects),
                     "det_f1": prf(m, len(pr_rects), len(gt_rects))[2],
                     "tok_f1": prf(t, sum(pr_tok.values()), sum(gt_tok.values()))[2], "ms": res.total_time_ms})
        if dump:
            dumped.append({"page": img, "lines": [line.to_dict() for line in res.lines]})
        if verbose:
            missed = gt_tok - pr_tok
            extra = pr_tok - gt_tok
            sys.stderr.write(f"\n{img}: missed {sorted(missed.elements())[:30]}\n  extra {sorted(extra.elements())[:30]}\n")
    progress(len(pages), len(pages), "done")
    if dump:
        with open(dump, "w") as f:
            json.dump(dumped, f)
    return {
        "pages": len(pages), "model": ocr.model_name,
        "detection": dict(zip(("P", "R", "F1"), prf(det_tp, det_p, det_g))),
        "tokens": dict(zip(("P", "R", "F1"), prf(tok_tp, tok_p, tok_g))),
        "median_ms": {k: statistics.median(v) for k, v in times.items()},
        "mean_ms": {k: statistics.fmean(v) for k, v in times.items()},
        "per_page": rows,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory with pages.tsv (SROIE page format)")
    ap.add_argument("--model", default="", help="model name/path, or ort:ppocrv2 for the onnxruntime stand-in")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-deskew", action="store_true")
    ap.add_argument("--crop-steps", default=None, help="comma-separated crop steps (default: per model)")
    ap.add_argument("--max-ratio", type=float, default=10.0)
    ap.add_argument("--right-margin", type=int, default=None)
    ap.add_argument("--squeeze-width", type=int, default=None,
                    help="squeeze-and-excitation means as if lines were padded to this width (0: off; default: per detector)")
    ap.add_argument("--gap", type=float, default=None, help="detector gap (text heights)")
    ap.add_argument("--dash-gap", type=float, default=None, help="erase dashed separators with gaps up to this many text heights (0: solid rules only)")
    ap.add_argument("--no-small-marks", action="store_true", help="do not recover small ':' and '.' marks the speck filter drops")
    ap.add_argument("--sliver", type=float, default=None, help="cut bands of neighbouring rows up to this many text heights off line boxes (0: off)")
    ap.add_argument("--pad-bottom", type=float, default=None, help="margin below a line's ink, fraction of its height (default 0.03)")
    ap.add_argument("--oracle-boxes", action="store_true",
                    help="read the annotated line boxes instead of detecting (no deskew): what detection costs")
    ap.add_argument("--word-gap", type=float, default=None, help="join rows of 3+ boxes whose gaps are all under this many text heights (0: off)")
    ap.add_argument("--beam-width", type=int, default=None, help="CTC beam width for page lines (1: greedy)")
    ap.add_argument("--second-look", type=float, default=None, help="re-read lines under this confidence from a trimmed crop (0: off)")
    ap.add_argument("--recover", type=int, default=None)
    ap.add_argument("--x-scale", type=float, default=None)
    ap.add_argument("--min-token-score", type=float, default=None, help="drop tokens whose mean character confidence is lower")
    ap.add_argument("--no-case", action="store_true", help="no second reading of lower-case lines for letter case and word spaces")
    ap.add_argument("--case-share", type=float, default=None,
                    help="read a page's lower-case lines again when at least this share of its lines are lower case (default 0.8)")
    ap.add_argument("--no-commas", action="store_true", help="no comma handling: keep the recogniser's '.' and do not erase commas before reading")
    ap.add_argument("--bucket", type=float, default=None, help="widest/narrowest width ratio within one batch")
    ap.add_argument("--batch-size", type=int, default=None, help="most line pieces per forward pass")
    ap.add_argument("--space-gap", type=float, default=None, help="insert word spaces at CTC gaps of this many pitches (0: off)")
    ap.add_argument("--detector", default="", help="auto | db | lines | db-ort (DB through onnxruntime); default: OCR's")
    ap.add_argument("--unclip-ratio", type=float, default=None, help="DB box growth (RapidOCR 1.6)")
    ap.add_argument("--box-thresh", type=float, default=None, help="DB: least mean probability inside a box")
    ap.add_argument("--det-thresh", type=float, default=None, help="DB: binarisation threshold of the map")
    ap.add_argument("--det-max-side", type=int, default=None, help="DB: shrink pages so the long side is at most this")
    ap.add_argument("--det-limit-side", type=int, default=None, help="DB: enlarge pages so the short side is at least this")
    ap.add_argument("--no-orient", action="store_true", help="DB: no 0/180 line classifier")
    ap.add_argument("--no-photo-crops", action="store_true", help="DB: read line crops as cut (no gray, no sharpening)")
    ap.add_argument("--page-vote", type=float, default=None, help="DB: turn every line when the page's mean P(180) exceeds this (0: per line)")
    ap.add_argument("--half", choices=("even", "odd"), default="", help="only the even (tuning) or odd (held-out-like) pages")
    ap.add_argument("--rotate180", action="store_true", help="read every page turned upside down")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--dump", default="", help="write each page's predicted lines (text, box) to this JSON file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    threads = pin_opencv()
    kw = dict(deskew=not args.no_deskew, crop_steps=args.crop_steps, max_ratio=args.max_ratio,
              right_margin=args.right_margin)
    det_kw = {k: getattr(args, k) for k in ("gap", "dash_gap", "sliver", "word_gap", "pad_bottom") if getattr(args, k) is not None}
    if args.no_small_marks:
        det_kw["small_marks"] = False
    if det_kw:
        from tinycrnn.page.detect import LineDetector

        kw["detector"] = LineDetector(**det_kw)
    db_kw = {k: getattr(args, a) for k, a in (("unclip_ratio", "unclip_ratio"), ("box_thresh", "box_thresh"),
                                               ("thresh", "det_thresh"), ("max_side", "det_max_side"),
                                               ("limit_side", "det_limit_side")) if getattr(args, a) is not None}
    if args.no_orient:
        db_kw["orient"] = False
    if args.no_photo_crops:
        db_kw["photo_crops"] = False
    if args.detector:
        kw["detector"] = make_detector(args.detector, **db_kw)
        if args.page_vote is not None and getattr(kw["detector"], "orienter", None) is not None:
            kw["detector"].orienter.page_vote = args.page_vote
    if args.beam_width is not None:
        kw["beam_width"] = args.beam_width
    if args.no_case:
        kw["case_model"] = None
    if args.case_share is not None:
        from tinycrnn.page import case

        case.PAGE_SHARE = args.case_share
    if args.oracle_boxes:
        kw["deskew"] = False  # the annotated boxes are in the unrotated page's coordinates
    ocr = make_ocr(args.model, **kw)
    if args.second_look is not None:
        ocr.second_look = args.second_look
    for reader in (ocr.reader, ocr.learned_reader):
        if args.no_commas:
            reader.commas = False
        for name in ("recover", "x_scale", "min_token_score", "bucket", "batch_size", "space_gap", "squeeze_width"):
            if getattr(args, name) is not None:
                setattr(reader, name, getattr(args, name))
    t = time.perf_counter()
    r = evaluate(ocr, args.data, args.limit, args.verbose, args.dump, args.oracle_boxes, args.half, args.rotate180)
    r["wall_s"] = time.perf_counter() - t
    r["threads"] = threads
    if args.json:
        print(json.dumps(r, indent=1))
    else:
        d, k = r["detection"], r["tokens"]
        print(f"model {r['model']}  detector {type(ocr.detector).__name__}  pages {r['pages']}  threads {threads}")
        print(f"detection  P {d['P']:.3f}  R {d['R']:.3f}  F1 {d['F1']:.3f}")
        print(f"tokens     P {k['P']:.3f}  R {k['R']:.3f}  F1 {k['F1']:.3f}")
        print("median ms/page: " + "  ".join(f"{a} {b:.0f}" for a, b in r["median_ms"].items()))
        print("mean ms/page:   " + "  ".join(f"{a} {b:.0f}" for a, b in r["mean_ms"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
