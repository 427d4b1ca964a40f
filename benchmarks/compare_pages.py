"""A/B page-pipeline settings side by side: one process, pages interleaved, F1 per half and time ratios.

    python -m benchmarks.compare_pages \\
        base "greedy:beam_width=1" "nolook:second_look=0" "nosliver:det.sliver=0"
    python -m benchmarks.compare_pages --lines base "greedy:beam_width=1"   # sroie_lines crops instead

Each config is ``name[:key=value,...]``: plain keys are ``tinycrnn.OCR`` arguments, ``det.KEY`` a
:class:`~tinycrnn.page.detect.LineDetector` argument, ``reader.KEY`` / ``ocr.KEY`` an attribute set on the
:class:`~tinycrnn.page.reader.LineReader` / ``OCR`` after construction. All configs share one recogniser.
Every page is read by every config in rotating order, so machine load hits them alike; the time column is
the median over pages of each config's time divided by the first config's on the same page (robust on a
busy machine), next to the plain median and the recogniser columns (batch x padded width) per page, the
cost that load does not blur. ``--lines`` reads the annotated line crops of ``sroie_lines``
(one batch per receipt, through ``OCR.read_crops``): case-insensitive exact lines, whitespace collapsed.
Halves follow ``eval_pages --half``: even / odd positions in ``pages.tsv`` (the lines of a receipt go
with its page).
"""
import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any, Dict, List

import numpy as np

from benchmarks import pin_opencv
from benchmarks.eval_pages import DEFAULT_DATA, prf, tokens

LINES = os.path.join(os.path.dirname(DEFAULT_DATA.rstrip("/")), "sroie_lines")


def _value(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(v.lower(), v)


def parse_config(spec: str):
    name, _, rest = spec.partition(":")
    kw = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, {k: _value(v) for k, v in kw.items()}


def make(spec: Dict[str, Any], recognizer):
    import tinycrnn
    from tinycrnn.page.detect import LineDetector

    ocr_kw = {k: v for k, v in spec.items() if "." not in k}
    det_kw = {k[4:]: v for k, v in spec.items() if k.startswith("det.")}
    db_kw = {k[3:]: v for k, v in spec.items() if k.startswith("db.")}
    if det_kw:
        ocr_kw["detector"] = LineDetector(**det_kw)
    elif db_kw:
        from tinycrnn.page.db import DBDetector

        ocr_kw["detector"] = DBDetector(**db_kw)
    ocr = tinycrnn.OCR(model=recognizer, **ocr_kw)
    for k, v in spec.items():
        if k.startswith("reader."):
            setattr(ocr.reader, k[7:], v)
            setattr(ocr.learned_reader, k[7:], v)
        elif k.startswith("ocr."):
            setattr(ocr, k[4:], v)
    return ocr


def norm(text: str) -> str:
    return " ".join(text.upper().split())


class ColumnCounter:
    """Counts the columns (batch x width) each config sends through the recogniser: a cost figure that,
    unlike time, machine load does not blur."""

    def __init__(self, model, n: int):
        self.model, self.forward, self.cur, self.cols = model, model.forward, 0, [0] * n
        model.forward = self

    def __call__(self, x, *args):
        self.cols[self.cur] += x.shape[0] * x.shape[3]
        return self.forward(x, *args)


def run_pages(ocrs, data: str, limit: int) -> Dict[str, Any]:
    pages = [ln.split("\t") for ln in open(os.path.join(data, "pages.tsv")).read().splitlines() if ln.strip()]
    pages = pages[:limit] if limit else pages
    for ocr in ocrs:
        ocr.read(os.path.join(data, pages[0][0]))  # warm-up
    counter = ColumnCounter(ocrs[0].reader.model, len(ocrs))
    stats = [defaultdict(lambda: [0, 0, 0]) for _ in ocrs]
    ms: List[List[float]] = [[] for _ in ocrs]
    for k, (img, ann) in enumerate(pages):
        gt = tokens(" ".join(line["text"] for line in json.load(open(os.path.join(data, ann)))["lines"]))
        half = ("even", "odd")[k % 2]
        for j in [(k + s) % len(ocrs) for s in range(len(ocrs))]:
            counter.cur = j
            t = time.perf_counter()
            res = ocrs[j].read(os.path.join(data, img))
            ms[j].append((time.perf_counter() - t) * 1000)
            pr = tokens(" ".join(line.text for line in res.lines))
            for h in (half, "all"):
                s = stats[j][h]
                s[0] += sum((gt & pr).values())
                s[1] += sum(pr.values())
                s[2] += sum(gt.values())
        sys.stderr.write(f"\r{k + 1}/{len(pages)}")
    sys.stderr.write("\n")
    return {"stats": stats, "ms": ms, "cols": [c / len(pages) for c in counter.cols]}


def run_lines(ocrs, data: str, lines_dir: str, limit: int) -> Dict[str, Any]:
    import cv2

    from tinycrnn.page.choose import trim_rows
    from tinycrnn.page.pipeline import SECOND_LOOK_TRIM

    order = [os.path.basename(ln.split("\t")[0])[:3] for ln in open(os.path.join(data, "pages.tsv")).read().splitlines() if ln.strip()]
    groups: Dict[str, list] = defaultdict(list)
    for ln in open(os.path.join(lines_dir, "labels.tsv")).read().splitlines():
        if ln.strip():
            path, text = ln.split("\t", 1)
            groups[os.path.basename(path)[:3]].append((path, text))
    receipts = [r for r in order if r in groups]
    receipts = receipts[:limit] if limit else receipts
    stats = [defaultdict(lambda: [0, 0, 0]) for _ in ocrs]
    ms: List[List[float]] = [[] for _ in ocrs]
    for ocr in ocrs:  # warm-up
        c = [cv2.imread(os.path.join(lines_dir, groups[receipts[0]][0][0]))]
        ocr.read_crops(c, lambda i: trim_rows(c[i], SECOND_LOOK_TRIM))
    counter = ColumnCounter(ocrs[0].reader.model, len(ocrs))
    for k, r in enumerate(receipts):
        crops = [cv2.imread(os.path.join(lines_dir, p)) for p, _ in groups[r]]
        half = ("even", "odd")[order.index(r) % 2]
        for j in [(k + s) % len(ocrs) for s in range(len(ocrs))]:
            counter.cur = j
            t = time.perf_counter()
            read = ocrs[j].read_crops(crops, lambda i: trim_rows(crops[i], SECOND_LOOK_TRIM))
            ms[j].append((time.perf_counter() - t) * 1000)
            ok = sum(norm(x[0]) == norm(t_) for x, (_, t_) in zip(read, groups[r]))
            for h in (half, "all"):
                s = stats[j][h]
                s[0] += ok
                s[1] += len(crops)
        sys.stderr.write(f"\r{k + 1}/{len(receipts)}")
    sys.stderr.write("\n")
    return {"stats": stats, "ms": ms, "cols": [c / len(receipts) for c in counter.cols]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+", help="name[:key=value,...]; the first is the reference")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--lines", action="store_true", help="read the sroie_lines crops instead of pages")
    ap.add_argument("--lines-dir", default=LINES, help="the sroie_lines directory (default: next to --data)")
    ap.add_argument("--model", default="")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    pin_opencv()
    from tinycrnn.page.defaults import default_recognizer
    from tinycrnn.recognizer import Recognizer

    rec = Recognizer(args.model) if args.model else default_recognizer()
    specs = [parse_config(c) for c in args.configs]
    ocrs = [make(kw, rec) for _, kw in specs]
    r = run_lines(ocrs, args.data, args.lines_dir, args.limit) if args.lines else run_pages(ocrs, args.data, args.limit)
    what = "exact lines" if args.lines else "token F1"
    print(f"{what:<12} {'even':>6} {'odd':>6} {'all':>6}  {'median ms':>9}  {'x ref':>5}  {'cols/page':>9}   config")
    for (name, kw), st, ms, cols in zip(specs, r["stats"], r["ms"], r["cols"]):
        if args.lines:
            vals = [st[h][0] / max(1, st[h][1]) for h in ("even", "odd", "all")]
        else:
            vals = [prf(*st[h])[2] for h in ("even", "odd", "all")]
        ratio = statistics.median(np.array(ms) / np.array(r["ms"][0]))
        print(f"{name:<12} {vals[0]:6.4f} {vals[1]:6.4f} {vals[2]:6.4f}  {statistics.median(ms):9.0f}  {ratio:5.3f}  {cols:9.0f}   {kw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
