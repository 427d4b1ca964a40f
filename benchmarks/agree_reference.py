"""How often tinycrnn's text equals the original framework's on real images (the parity of issue #2/#5).

    python -m benchmarks.agree_reference [--data ../shared/data] [--model english_g2] [--sets iiit5k,svt,...]

Reads each set's `reference_<model>.tsv` (path, prediction[, confidence]) and compares greedy texts.
"""
import argparse
import os

REFERENCE = {"english_g2": "reference_english_g2.tsv", "ppocrv2_zh": "reference_ppocrv2.tsv"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--data", default=os.path.join(os.path.dirname(here), "shared", "data"))
    ap.add_argument("--model", default="english_g2", choices=sorted(REFERENCE))
    ap.add_argument("--sets", default="iiit5k,svt,icdar2013,icdar2015,sroie_lines")
    args = ap.parse_args(argv)
    import tinycrnn

    rec = tinycrnn.Recognizer(args.model)
    print(f"{'set':<12} {'N':>5} {'equal':>6} {'%':>7}")
    for name in args.sets.split(","):
        tsv = os.path.join(args.data, name, REFERENCE[args.model])
        if not os.path.exists(tsv):
            print(f"{name:<12} (no {REFERENCE[args.model]})")
            continue
        with open(tsv, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f][1:]
        got = rec.recognize_batch([os.path.join(args.data, name, r[0]) for r in rows])
        equal = sum(r[1] == g.text for r, g in zip(rows, got))
        print(f"{name:<12} {len(rows):>5} {equal:>6} {100.0 * equal / len(rows):7.2f}")


if __name__ == "__main__":
    main()
