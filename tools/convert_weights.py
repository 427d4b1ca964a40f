#!/usr/bin/env python3
"""Convert a trained checkpoint into a tinycrnn model file.

    python tools/convert_weights.py shared/models/english_g2.pth weights/english_g2.tcrnn

Reads PyTorch zip checkpoints without torch (a restricted unpickler: any global outside a
state_dict's needs is refused before code runs) and checks the written file loads.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinycrnn.convert.checkpoint import convert_checkpoint  # noqa: E402
from tinycrnn.errors import TinyCRNNError  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="source checkpoint (.pth)")
    ap.add_argument("dst", help="destination .tcrnn file")
    ap.add_argument("--name", help="model name stored in the file (default: source file stem)")
    args = ap.parse_args(argv)
    try:
        manifest = convert_checkpoint(args.src, args.dst, name=args.name)
        from tinycrnn import load_model

        model = load_model(args.dst, backend="numpy")
    except (TinyCRNNError, OSError) as exc:
        print(f"convert_weights: {exc}", file=sys.stderr)
        return 1
    size = os.path.getsize(args.dst)
    print(f"wrote {args.dst}: {size / 1e6:.2f} MB, {len(manifest['arch']['layers'])} layers, "
          f"{len(model.charset)} classes, min width {model.min_width}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
