"""Does another build read real crops as this one does? Texts of every shipped line model, side by side.

    python -m benchmarks.build_agree --cpu cortex-a72 [--per-set 12] [--sets sroie_lines,zh_lines]
    python -m benchmarks.build_agree --cpu haswell --per-set 100

Reads every k-th crop of each set (``--per-set`` of them, spread over the set) with english_g2, its int8 file,
PP-OCRv2 and its int8 file, here and in the build ``--cpu`` names, and prints how many texts are equal, with every
difference. An aarch64 core (``cortex-a72``, ``cortex-a76``, ...) runs under qemu (``benchmarks/arm64_run.sh``: the same
checkout, its own Numba cache; emulation gives correctness, not time: a warm emulated read takes seconds); an x86
build of ``benchmarks/cpu_build.py`` (``haswell``, ``skylake``, ``alderlake``) runs on this CPU. english_g2 reads
Latin sets only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchmarks._shared import shared_path
from benchmarks.cpu_build import BUILDS

MODELS = ("english_g2", "english_g2_int8", "ppocrv2_zh", "ppocrv2_zh-int8")
LATIN_ONLY = ("english_g2", "english_g2_int8")
CJK_SETS = ("zh_lines",)


def pick(data: str, sets, per_set: int):
    """(set, relative path) of ``per_set`` crops of each set, evenly spread over its labels.tsv."""
    out = []
    for name in sets:
        with open(os.path.join(data, name, "labels.tsv"), encoding="utf-8") as f:
            rows = [line.split("\t")[0] for line in f if line.strip()]
        step = max(1, len(rows) // per_set)
        out += [(name, rows[i]) for i in range(0, len(rows), step)][:per_set]
    return out


def read_all(data: str, crops) -> dict:
    """{model: [text or None per crop]} (None: a Latin-only model on a CJK set)."""
    import warnings

    import tinycrnn

    out = {}
    for m in MODELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the int8-on-ARM advisory
            rec = tinycrnn.Recognizer(m)
        out[m] = [None if (m in LATIN_ONLY and s in CJK_SETS) else rec.recognize(os.path.join(data, s, p)).text
                  for s, p in crops]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", default="cortex-a72",
                    help=f"an aarch64 core (emulated) or an x86 build ({', '.join(sorted(BUILDS))})")
    ap.add_argument("--data", default=shared_path("data"))
    ap.add_argument("--sets", default="sroie_lines,zh_lines")
    ap.add_argument("--per-set", type=int, default=12)
    ap.add_argument("--emit", default=None, help="(used under emulation) write the texts as JSON here and stop")
    args = ap.parse_args(argv)
    data = os.path.abspath(args.data)
    crops = pick(data, args.sets.split(","), args.per_set)
    if args.emit:
        with open(args.emit, "w", encoding="utf-8") as f:
            json.dump(read_all(data, crops), f, ensure_ascii=False)
        return 0
    here = read_all(data, crops)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "other.json")
        emit = ["-m", "benchmarks.build_agree", "--emit", out, "--data", data, "--sets", args.sets,
                "--per-set", str(args.per_set)]
        if args.cpu in BUILDS:
            cmd = [sys.executable, "-m", "benchmarks.cpu_build", args.cpu, "--", sys.executable, *emit]
        else:
            cmd = ["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "arm64_run.sh"), args.cpu, *emit]
        subprocess.run(cmd, check=True)
        with open(out, encoding="utf-8") as f:
            other = json.load(f)
    where = f"the {args.cpu} build" if args.cpu in BUILDS else f"emulated {args.cpu}"
    print(f"{len(crops)} crops ({args.sets}, {args.per_set} per set), this build against {where}")
    print(f"{'model':<18} {'N':>4} {'equal':>6}")
    same = True
    for m in MODELS:
        pairs = [(c, a, b) for c, a, b in zip(crops, here[m], other[m]) if a is not None]
        diff = [(c, a, b) for c, a, b in pairs if a != b]
        same &= not diff
        print(f"{m:<18} {len(pairs):>4} {len(pairs) - len(diff):>6}")
        for (s, p), a, b in diff:
            print(f"    {s}/{p}: here {a!r} | {args.cpu} {b!r}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
