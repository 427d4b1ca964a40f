"""INT8 vs FP32 accuracy on the dev sets: word accuracy per set and greedy-text agreement.

    python -m benchmarks.eval_int8 [--fp32 english_g2-fp32] [--int8 english_g2] [--sets iiit5k,svt,...]

Protocols (shared/PEERS.md): word sets lower-case, keep [0-9a-z], exact match vs labels.tsv;
sroie_lines case-insensitive exact line with whitespace collapsed. The acceptance bar of the
INT8 issue: every set within 0.3 points of FP32, and >= 98% of images read identically.
"""
import argparse
import json
import os
import re
import time

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fp32", default="english_g2-fp32")
    ap.add_argument("--int8", default="english_g2-int8")
    ap.add_argument("--sets", default=",".join(WORD_SETS + ("sroie_lines",)))
    ap.add_argument("--json", help="write the per-set figures to this file")
    args = ap.parse_args(argv)
    import tinycrnn

    recs = {"fp32": tinycrnn.Recognizer(model=args.fp32), "int8": tinycrnn.Recognizer(model=args.int8)}
    results = {}
    print(f"{'set':<12} {'N':>5} {'fp32':>7} {'int8':>7} {'delta':>7} {'agree':>7}  (fp32 {args.fp32}, int8 {args.int8})")
    for ds in args.sets.split(","):
        rows = read_labels(ds)
        paths = [p for p, _ in rows]
        texts = {}
        for key, rec in recs.items():
            t = time.perf_counter()
            texts[key] = [r.text for r in rec.recognize_batch(paths)]
            texts[key + "_s"] = time.perf_counter() - t
        acc = {k: 100.0 * sum(normalise(p, ds) == normalise(lab, ds) for p, (_, lab) in zip(texts[k], rows)) / len(rows)
               for k in recs}
        agree = 100.0 * sum(a == b for a, b in zip(texts["fp32"], texts["int8"])) / len(rows)
        results[ds] = {"n": len(rows), "fp32": acc["fp32"], "int8": acc["int8"], "agree": agree,
                       "fp32_s": texts["fp32_s"], "int8_s": texts["int8_s"],
                       "diffs": [(os.path.basename(p), a, b) for p, a, b in zip(paths, texts["fp32"], texts["int8"]) if a != b][:20]}
        print(f"{ds:<12} {len(rows):>5} {acc['fp32']:7.2f} {acc['int8']:7.2f} {acc['int8'] - acc['fp32']:+7.2f} {agree:7.2f}"
              f"   ({texts['fp32_s']:.0f} s / {texts['int8_s']:.0f} s)")
    ok = all(abs(r["int8"] - r["fp32"]) <= 0.3 and r["agree"] >= 98.0 for r in results.values())
    print("bar (|delta| <= 0.3 on every set and agreement >= 98%):", "MET" if ok else "NOT MET")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
