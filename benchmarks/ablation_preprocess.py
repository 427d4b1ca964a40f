"""Ablation of the line-crop preprocessing steps (each on/off), on clean and degraded crops.

    python -m benchmarks.ablation_preprocess --model ppocrv2_zh --n 300
    python -m benchmarks.ablation_preprocess --model ort:ppocrv2 --n 300   # onnxruntime stand-in, same outputs

Sets: shared/data/sroie_lines (receipt lines, case-insensitive exact line) and iiit5k (words,
lower-case [0-9a-z] exact). Conditions: clean, and blur / noise / low_contrast versions made from
the same dev images with a fixed seed (tinycrnn.page.steps.degrade). Lines go through the page
pipeline's LineReader (splitting, margins, batching), so the table measures what pages get.
"""
import argparse
import os
import re
import sys
import time

import numpy as np

from benchmarks._shared import shared_path

DATA = os.environ.get("TINYCRNN_DATA", shared_path("data"))
CONFIGS = ["none", "clahe", "denoise", "otsu", "clahe,denoise", "clahe,denoise,otsu", "gray", "line_deskew"]
CONDITIONS = ["clean", "blur", "noise", "low_contrast"]


def load_set(name: str, n: int, seed: int = 0):
    rows = [line.split("\t") for line in open(os.path.join(DATA, name, "labels.tsv"), encoding="utf-8").read().splitlines() if "\t" in line]
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(rows), min(n, len(rows)), replace=False))
    return [(os.path.join(DATA, name, rows[i][0]), rows[i][1]) for i in idx]


def norm(name: str, s: str) -> str:
    if name == "iiit5k":
        return re.sub(r"[^0-9a-z]", "", s.lower())
    return " ".join(s.upper().split())


def main(argv=None) -> int:
    import cv2

    from benchmarks.eval_pages import make_ocr
    from tinycrnn.page.steps import degrade, parse_steps

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ppocrv2_zh")
    ap.add_argument("--n", type=int, default=300, help="items per set (fixed-seed sample)")
    ap.add_argument("--sets", default="sroie_lines,iiit5k")
    args = ap.parse_args(argv)
    reader = make_ocr(args.model).reader
    print(f"model {args.model}, {args.n} items per set; exact-match % per condition")
    print("| set | steps | " + " | ".join(CONDITIONS) + " | ms/item |")
    print("|---|---|" + "---|" * (len(CONDITIONS) + 1))
    for name in args.sets.split(","):
        items = load_set(name, args.n)
        images = [cv2.imread(p, cv2.IMREAD_COLOR) for p, _ in items]
        variants = {c: images if c == "clean" else [degrade(im, c, seed=k) for k, im in enumerate(images)] for c in CONDITIONS}
        for cfg in CONFIGS:
            steps = parse_steps("" if cfg == "none" else cfg)
            accs, t = [], time.perf_counter()
            for c in CONDITIONS:
                crops = [steps(im) for im in variants[c]]
                got = reader.read(crops)
                ok = sum(norm(name, g) == norm(name, lab) for (g, _), (_, lab) in zip(got, items))
                accs.append(100.0 * ok / len(items))
                sys.stderr.write(f"\r{name} {cfg} {c}      ")
            ms = (time.perf_counter() - t) * 1000 / (len(items) * len(CONDITIONS))
            print(f"| {name} | {cfg} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {ms:.1f} |", flush=True)
    sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
