"""Documents in and out on the SROIE dev receipts: seconds per PDF page (render + OCR + write) and page token F1
of the searchable PDF's text layer (read back with pdftotext) and of OCRmyPDF with the tinycrnn plugin.

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m benchmarks.bench_pdf --pages 8

The receipts are put into a PDF at run time (lossless, PAGE_DPI), in a temporary folder that is deleted
afterwards: the images are evaluation-only and never leave shared/. Per page and stage: render (pypdfium2),
OCR (tinycrnn.OCR, the CLI's defaults), write (SearchablePdf); after one warm-up page. Token F1: case-insensitive
whitespace tokens against the SROIE transcripts, micro-averaged over pages, for (a) ``tinycrnn read`` of the
original images, (a') of the PDF pages rendered at ``--dpi``, (b) pdftotext of the searchable PDF written from
(a') (what ``tinycrnn read in.pdf --format pdf`` does), (c) pdftotext of ``ocrmypdf --plugin tinycrnn.ocrmypdf``
(skipped without OCRmyPDF); and the agreement (token F1) of (b) with (a') and of (c) with (a).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

import cv2

from benchmarks._shared import shared_path

DEFAULT_DATA = os.environ.get("TINYCRNN_SROIE", shared_path("data", "sroie"))
#: The receipts' page resolution in the generated PDF: SROIE scans are ~800 px wide, a 2.8-inch receipt at 288 dpi.
#: 288 = 4 x 72 makes every page size exact in PDFium's float32 points, so OCRmyPDF's rasteriser gives back the
#: very pixels (at 200 dpi it resamples: a 291.6 pt page is 291.600006 in float32).
PAGE_DPI = 288


def tokens(lines) -> Counter:
    return Counter(" ".join(lines).upper().split())


def f1(pred: Counter, ref: Counter) -> tuple:
    tp = sum((pred & ref).values())
    p = tp / max(1, sum(pred.values()))
    r = tp / max(1, sum(ref.values()))
    return tp, sum(pred.values()), sum(ref.values()), (2 * p * r / (p + r) if p + r else 0.0)


def pooled(rows) -> float:
    tp, n_pred, n_ref = (sum(r[i] for r in rows) for i in range(3))
    p, r = tp / max(1, n_pred), tp / max(1, n_ref)
    return 2 * p * r / (p + r) if p + r else 0.0


def pdftotext_pages(path, n):
    return [subprocess.run(["pdftotext", "-f", str(k), "-l", str(k), str(path), "-"], capture_output=True, text=True,
                           check=True).stdout.splitlines() for k in range(1, n + 1)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="SROIE page folder (pages.tsv)")
    ap.add_argument("--pages", type=int, default=8, help="first N dev receipts (default 8)")
    ap.add_argument("--dpi", type=float, default=300.0, help="render resolution of tinycrnn read (default 300)")
    ap.add_argument("--backend", choices=("numba", "numpy"), default="numba")
    ap.add_argument("--no-ocrmypdf", action="store_true", help="skip the OCRmyPDF run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from tinycrnn.page.pipeline import OCR
    from tinycrnn.pdf.layout import page_words
    from tinycrnn.pdf.render import PdfDocument
    from tinycrnn.pdf.write import SearchablePdf

    items = [ln.split("\t") for ln in open(os.path.join(args.data, "pages.tsv")).read().splitlines() if ln.strip()]
    items = items[: args.pages]
    gt = [tokens([ln["text"] for ln in json.load(open(os.path.join(args.data, a)))["lines"]]) for _, a in items]
    images = [cv2.imread(os.path.join(args.data, i)) for i, _ in items]
    tmp = tempfile.mkdtemp(prefix="tinycrnn-bench-pdf-")
    try:
        src = os.path.join(tmp, "in.pdf")
        with open(src, "wb") as f:
            pdf = SearchablePdf(f, jpeg_quality=None)
            for img in images:
                pdf.add_page(img, [], PAGE_DPI)
            pdf.close()
        ocr = OCR(backend=args.backend)
        ocr.read(images[0])  # JIT / cache load outside the timings
        direct = [[ln.text for ln in ocr.read(img).lines] for img in images]

        out = os.path.join(tmp, "out.pdf")
        times = {"render": [], "ocr": [], "write": []}
        rendered = []
        with PdfDocument(src) as doc, open(out, "wb") as f:
            writer = SearchablePdf(f)
            for i in range(doc.page_count):
                t0 = time.perf_counter()
                img, dpi = doc.render(i, args.dpi)
                t1 = time.perf_counter()
                res = ocr.read(img)
                t2 = time.perf_counter()
                rendered.append([ln.text for ln in res.lines])
                writer.add_page(img, page_words(res), dpi)
                t3 = time.perf_counter()
                for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                    times[k].append(v)
            writer.close()
        layer = pdftotext_pages(out, len(items)) if shutil.which("pdftotext") else None

        plugin, plugin_s = None, None
        if not args.no_ocrmypdf and shutil.which("pdftotext"):
            import importlib.util

            if importlib.util.find_spec("ocrmypdf") is None:
                print("OCRmyPDF not installed: plugin run skipped", file=sys.stderr)
            else:
                t0 = time.perf_counter()
                cmd = [sys.executable, "-m", "ocrmypdf", "--plugin", "tinycrnn.ocrmypdf", "-j", "1", "--output-type",
                       "pdf", "--optimize", "0", "--tinycrnn-backend", args.backend, src, os.path.join(tmp, "o.pdf")]
                subprocess.run(cmd, check=True, capture_output=True)
                plugin_s = (time.perf_counter() - t0) / len(items)
                plugin = pdftotext_pages(os.path.join(tmp, "o.pdf"), len(items))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    total = [sum(v) for v in zip(*times.values())]
    report = {
        "pages": len(items), "render_dpi": args.dpi, "page_dpi_in_pdf": PAGE_DPI, "backend": args.backend,
        "s_per_page_median": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "s_per_page_total_median": round(statistics.median(total), 3),
        "s_per_page_total_mean": round(statistics.mean(total), 3),
        "f1_read_images": round(pooled([f1(tokens(p), g) for p, g in zip(direct, gt)]), 4),
    }
    if layer is not None:
        report["f1_pdf_text_layer"] = round(pooled([f1(tokens(p), g) for p, g in zip(layer, gt)]), 4)
        report["f1_read_rendered_pages"] = round(pooled([f1(tokens(p), g) for p, g in zip(rendered, gt)]), 4)
        # what the writer alone loses: the text layer against the OCR of the very pixels it lies on
        report["agreement_pdf_layer_vs_its_ocr"] = round(pooled([f1(tokens(p), tokens(d))
                                                                 for p, d in zip(layer, rendered)]), 4)
    if plugin is not None:
        report["f1_ocrmypdf_plugin"] = round(pooled([f1(tokens(p), g) for p, g in zip(plugin, gt)]), 4)
        report["agreement_ocrmypdf_vs_read"] = round(pooled([f1(tokens(p), tokens(d)) for p, d in zip(plugin, direct)]), 4)
        report["ocrmypdf_s_per_page_wall"] = round(plugin_s, 3)
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:32s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
