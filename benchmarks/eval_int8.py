"""INT8 vs FP32 accuracy on the dev sets: word accuracy per set and greedy-text agreement.

    python -m benchmarks.eval_int8 [--fp32 english_g2-fp32] [--int8 english_g2-int8] [--sets iiit5k,svt,...] [--margins 0.1,0.2]

Protocols (shared/PEERS.md): word sets lower-case, keep [0-9a-z], exact match vs labels.tsv;
sroie_lines case-insensitive exact line with whitespace collapsed; "flips" = images only FP32 reads
correctly / only INT8 reads correctly (the delta is their difference). The acceptance bar of the
INT8 issue: every set within 0.3 points of FP32, and >= 98% of images read identically.

``--margins`` adds what a confidence-gated fallback would cost: a line is flagged when one frame of the
INT8 output could switch to a class within TAU (natural-log probability) of its best and change the
greedy text; flagged lines re-read in FP32 would agree by construction. Per TAU it prints the share of
lines flagged and the agreement such a cascade would reach.

``--twins N`` also reads the first N images of each set with the INT8 model on the NumPy reference
kernels (``backend="numpy"``: the integer twins every Numba int8 path is bit-exact against, AVX-512 VNNI
and AVX2 alike) and counts the texts equal to the Numba INT8 texts: run compiled for Haswell
(``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` as tests/conftest.py AVX2_CPU) it checks the AVX2 tiles end to end.
"""
import argparse
import json
import os
import re
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
WORD_SETS = ("iiit5k", "svt", "icdar2013", "icdar2015")


def normalise(text: str, dataset: str) -> str:
    if dataset == "sroie_lines":
        return " ".join(text.lower().split())
    return re.sub(r"[^0-9a-z]", "", text.lower())


def read_labels(dataset: str):
    rows = []
    with open(os.path.join(DATA, dataset, "labels.tsv"), encoding="utf-8") as f:
        for line in f:
            path, _, label = line.rstrip("\n").partition("\t")
            if path:
                rows.append((os.path.join(DATA, dataset, path), label))
    return rows


def collapse(path: np.ndarray, blank: int) -> tuple:
    # the labels of tinycrnn.decode.greedy.collapse, vectorised: flip_margin calls it for every frame
    keep = (path != blank) & np.r_[True, path[1:] != path[:-1]]
    return tuple(path[keep])


def flip_margin(probs: np.ndarray, blank: int, alternatives: int = 3) -> float:
    """Smallest log-probability gap between a frame's best class and one of its next ``alternatives``
    that, swapped in alone, changes the greedy text (inf when no such swap exists)."""
    logp = np.log(np.maximum(probs, 1e-30))
    path = logp.argmax(1)
    text = collapse(path, blank)
    best = np.inf
    ranked = np.argsort(-logp, axis=1)[:, 1:1 + alternatives]
    for t in range(len(path)):
        for c in ranked[t]:
            gap = logp[t, path[t]] - logp[t, c]
            if gap < best:
                swapped = path.copy()
                swapped[t] = c
                if collapse(swapped, blank) != text:
                    best = gap
    return float(best)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fp32", default="english_g2-fp32")
    ap.add_argument("--int8", default="english_g2-int8")
    ap.add_argument("--sets", default=",".join(WORD_SETS + ("sroie_lines",)))
    ap.add_argument("--json", help="write the per-set figures to this file")
    ap.add_argument("--margins", default="", metavar="TAUS",
                    help="comma-separated log-probability gaps, e.g. 0.05,0.1,0.2: cost of an FP32 fallback (above)")
    ap.add_argument("--twins", type=int, default=0, metavar="N",
                    help="also read the first N images per set with the INT8 model on the NumPy twins (above)")
    args = ap.parse_args(argv)
    import tinycrnn

    recs = {"fp32": tinycrnn.Recognizer(model=args.fp32), "int8": tinycrnn.Recognizer(model=args.int8)}
    results = {}
    taus = [float(t) for t in args.margins.split(",") if t]
    gated = {tau: [0, 0] for tau in taus}  # flagged lines, agreeing lines after the fallback
    print(f"{'set':<12} {'N':>5} {'fp32':>7} {'int8':>7} {'delta':>7} {'agree':>7} {'flips':>8}  (fp32 {args.fp32}, int8 {args.int8})")
    for ds in args.sets.split(","):
        rows = read_labels(ds)
        paths = [p for p, _ in rows]
        texts, probs = {}, {}
        for key, rec in recs.items():
            t = time.perf_counter()
            probs[key] = rec.probabilities([rec.load(p) for p in paths])
            texts[key] = [rec.decode(p).text for p in probs[key]]
            texts[key + "_s"] = time.perf_counter() - t
        right = {k: [normalise(p, ds) == normalise(lab, ds) for p, (_, lab) in zip(texts[k], rows)] for k in recs}
        acc = {k: 100.0 * sum(right[k]) / len(rows) for k in recs}
        lost = sum(a and not b for a, b in zip(right["fp32"], right["int8"]))
        gained = sum(b and not a for a, b in zip(right["fp32"], right["int8"]))
        agree = 100.0 * sum(a == b for a, b in zip(texts["fp32"], texts["int8"])) / len(rows)
        results[ds] = {"n": len(rows), "fp32": acc["fp32"], "int8": acc["int8"], "agree": agree, "lost": lost, "gained": gained,
                       "fp32_s": texts["fp32_s"], "int8_s": texts["int8_s"],
                       "diffs": [(os.path.basename(p), a, b) for p, a, b in zip(paths, texts["fp32"], texts["int8"]) if a != b][:20]}
        print(f"{ds:<12} {len(rows):>5} {acc['fp32']:7.2f} {acc['int8']:7.2f} {acc['int8'] - acc['fp32']:+7.2f} {agree:7.2f}"
              f" {f'-{lost}/+{gained}':>8}   ({texts['fp32_s']:.0f} s / {texts['int8_s']:.0f} s)")
        if args.twins:
            twin = tinycrnn.Recognizer(model=args.int8, backend="numpy")
            sub = paths[: args.twins]
            tt = [twin.decode(p).text for p in twin.probabilities([twin.load(p) for p in sub])]
            same = sum(a == b for a, b in zip(tt, texts["int8"]))
            results[ds]["int8_equals_twins"] = [same, len(sub)]
            print(f"{'':<12} int8 texts equal to the NumPy twins' on {same}/{len(sub)} images"
                  + "".join(f"; differs {os.path.basename(p)}: {a!r} twin {b!r}"
                            for p, a, b in zip(sub, texts["int8"], tt) if a != b))
        if taus:
            blank = recs["int8"].model.blank_index
            margins = np.array([flip_margin(p, blank) for p in probs["int8"]])
            same = np.array([a == b for a, b in zip(texts["fp32"], texts["int8"])])
            cells = []
            for tau in taus:
                flagged = margins < tau
                gated[tau][0] += int(flagged.sum())
                gated[tau][1] += int((same | flagged).sum())
                cells.append(f"tau {tau:g}: {100 * flagged.mean():.1f}% re-read -> {100 * (same | flagged).mean():.2f}%")
            results[ds]["fallback"] = cells
            print(f"{'':<12} fallback " + "; ".join(cells))
    total = sum(r["n"] for r in results.values())
    for tau, (flagged, agreeing) in gated.items():
        print(f"all sets, tau {tau:g}: {100 * flagged / total:.1f}% of lines re-read in FP32 -> {100 * agreeing / total:.2f}% agree")
    ok = all(abs(r["int8"] - r["fp32"]) <= 0.3 and r["agree"] >= 98.0 for r in results.values())
    print("bar (|delta| <= 0.3 on every set and agreement >= 98%):", "MET" if ok else "NOT MET")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
