"""The page reader alone on annotated line crops: exact lines, and exact lines among those with a comma.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.eval_page_reader [--no-commas] [--show]

Reads every crop of a labels.tsv folder (default: shared/data/sroie_lines, the SROIE dev receipts cut
at their annotated boxes) through ``tinycrnn.OCR().reader`` -- the page pipeline's splitting, comma
handling, prefix re-read, word spaces and token filter, without detection -- and compares each line
case-insensitively with its label. Measures what the comma erasure (``--no-commas`` turns it off) does
on the lines PP-OCRv2 cuts at a comma.
"""
import argparse
import os
import sys

from benchmarks._shared import shared_path

DEFAULT_DATA = os.environ.get("TINYCRNN_SROIE_LINES", shared_path("data", "sroie_lines"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with labels.tsv (image path <TAB> text)")
    ap.add_argument("--no-commas", action="store_true", help="keep the recogniser's '.' and do not erase commas")
    ap.add_argument("--show", action="store_true", help="print the comma lines read wrong")
    args = ap.parse_args(argv)
    import cv2

    import tinycrnn

    items = [line.rstrip("\n").split("\t") for line in open(os.path.join(args.data, "labels.tsv")) if line.strip()]
    reader = tinycrnn.OCR().reader
    reader.commas = not args.no_commas
    read = []
    for i in range(0, len(items), 64):
        read += [t for t, _ in reader.read([cv2.imread(os.path.join(args.data, p)) for p, _ in items[i : i + 64]])]
    exact = [r.lower() == g.lower() for r, (_, g) in zip(read, items)]
    comma = [k for k, (_, g) in enumerate(items) if "," in g]
    print(f"lines {len(items)}  exact {100.0 * sum(exact) / len(items):.2f}%  "
          f"comma lines exact {sum(exact[k] for k in comma)}/{len(comma)}")
    if args.show:
        for k in comma:
            if not exact[k]:
                print(f"  {items[k][1]!r} -> {read[k]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
