"""Fingerprint the machine code of every compiled kernel: did a refactor change what the CPU runs?

    NUMBA_CACHE_DIR=$(mktemp -d) python -m benchmarks.asm_fingerprint --out new.json
    (in the other tree, with another fresh cache)             ... --out old.json
    python -m benchmarks.asm_fingerprint --compare old.json new.json

Runs one forward of every shipped model (and a softmax), so the kernels they use get compiled, then hashes each
compiled signature's assembly (``inspect_asm``) with labels, symbol names and addresses normalised away. A fresh
``NUMBA_CACHE_DIR`` is needed: ``inspect_asm`` has nothing to show for kernels loaded from the cache.
"""
import argparse
import hashlib
import importlib
import json
import pkgutil
import re
import sys

_MODELS = (("english_g2", (1, 1, 64, 256)), ("english_g2-int8", (2, 1, 64, 200)), ("ppocrv2_zh", (2, 3, 32, 320)),
           ("ppocrv2_zh-int8", (2, 3, 32, 320)), ("ppocrv4_det", (1, 3, 128, 160)), ("ppocr_cls", (1, 3, 48, 192)))


def fingerprint() -> dict:
    """{"module.kernel(signature)": [instruction count, md5 of the normalised instructions]}."""
    import numpy as np
    from numba.core.registry import CPUDispatcher

    import tinycrnn
    import tinycrnn.kernels as kernels
    from tinycrnn.kernels.softmax import softmax

    rng = np.random.default_rng(0)
    for name, shape in _MODELS:
        tinycrnn.load_model(name, backend="numba").forward(rng.standard_normal(shape).astype(np.float32))
    softmax(rng.standard_normal((3, 100)).astype(np.float32))
    out = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"tinycrnn.kernels.{info.name}")
        for name, obj in vars(mod).items():
            if not (isinstance(obj, CPUDispatcher) and obj.signatures):
                continue
            for sig, asm in obj.inspect_asm().items():
                body = [ln.strip() for ln in asm.splitlines()]
                body = [re.sub(r"\.L\w+|_ZN\w+|\b0x[0-9a-f]+\b", "X", ln) for ln in body
                        if ln and not ln.startswith((".", "#", ";")) and not ln.endswith(":")]
                out[f"{info.name}.{name}{sig}"] = [len(body), hashlib.md5("\n".join(body).encode()).hexdigest()]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the fingerprint here")
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two fingerprints")
    args = ap.parse_args(argv)
    if args.compare:
        old, new = (json.load(open(p, encoding="utf-8")) for p in args.compare)
        changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
        for k in changed:
            print(f"changed: {k} ({old[k][0]} -> {new[k][0]} instructions)")
        for k in sorted(old.keys() ^ new.keys()):
            print(f"only in {'old' if k in old else 'new'}: {k}")
        print(f"{len(old.keys() & new.keys())} kernels in both, {len(changed)} changed")
        return 1 if changed or old.keys() ^ new.keys() else 0
    fp = fingerprint()
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(fp, f, indent=0, sort_keys=True)
    print(f"{len(fp)} kernels fingerprinted -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
