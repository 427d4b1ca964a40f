"""Whole pages of prose: character and word error rates, case-sensitive and not, on the Tesseract test pages.

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m benchmarks.eval_prose [--model M] [--no-case]

The pages (shared/data/tesseract_testing: phototest, eurotext) give one transcription per printed line and
no boxes, so the predicted lines are joined in reading order and compared with the joined reference lines
(CER = edit distance / reference characters; WER the same over whitespace tokens). Two pages, no held-out
counterpart: a smoke test of letter case and word spaces on English (and European) prose, which the
SROIE receipts, upper case and scored case-insensitively, do not measure.
"""
import argparse
import json
import os
import time

from benchmarks._shared import shared_path

DEFAULT_DATA = os.environ.get("TINYCRNN_PROSE", shared_path("data", "tesseract_testing"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with pages.tsv (image <TAB> annotation json)")
    ap.add_argument("--model", default=None, help="page model (default: the page pipeline's)")
    ap.add_argument("--no-case", action="store_true", help="no second reading of lower-case lines (case_model=None)")
    ap.add_argument("--show", action="store_true", help="print each page's reading")
    args = ap.parse_args(argv)
    import tinycrnn
    from tinycrnn.evaluate.metrics import cer, edit_distance

    kw = {"case_model": None} if args.no_case else {}
    ocr = tinycrnn.OCR(model=args.model, **kw)
    print(f"model {ocr.model_name}, case model {'off' if args.no_case else ocr.case_model}")
    print(f"{'page':<12} {'CER':>6} {'WER':>6} {'CER nocase':>11} {'WER nocase':>11} {'ms':>6}")
    for row in open(os.path.join(args.data, "pages.tsv"), encoding="utf-8"):
        image, _, annotation = row.rstrip("\n").partition("\t")
        if not image:
            continue
        with open(os.path.join(args.data, annotation), encoding="utf-8") as f:
            ref = " ".join(line["text"] for line in json.load(f)["lines"])
        t = time.perf_counter()
        hyp = " ".join(line.text for line in ocr.read(os.path.join(args.data, image)).lines)
        ms = (time.perf_counter() - t) * 1000
        figures = [cer([(r, h)]) for r, h in ((ref, hyp), (ref.lower(), hyp.lower()))]
        words = [edit_distance(r.split(), h.split()) / len(r.split()) for r, h in ((ref, hyp), (ref.lower(), hyp.lower()))]
        name = os.path.splitext(os.path.basename(image))[0]
        print(f"{name:<12} {figures[0]:6.3f} {words[0]:6.3f} {figures[1]:11.3f} {words[1]:11.3f} {ms:6.0f}")
        if args.show:
            print("   ", hyp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
