#!/usr/bin/env python3
"""Convert a trained checkpoint into a tinycrnn model file.

    python tools/convert_weights.py MODELS/english_g2.pth weights/english_g2.tcrnn
    python tools/convert_weights.py MODELS/ppocrv2-rec-ch/ch_PP-OCRv2_rec_infer.onnx \
        weights/ppocrv2_zh.tcrnn --charset MODELS/ppocrv2-rec-ch/ppocr_keys_v1.txt --name ppocrv2_zh

(``MODELS``: the folder with the trained checkpoints; the model files name their sources in weights/README.md.)

ONNX needs the 'onnx' package (pip install tinycrnn[convert]). Reads PyTorch zip checkpoints without torch (a restricted unpickler: any global outside a
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
    ap.add_argument("src", help="source checkpoint (.pth or .onnx)")
    ap.add_argument("dst", help="destination .tcrnn file")
    ap.add_argument("--name", help="model name stored in the file (default: source file stem)")
    ap.add_argument("--charset", help="ONNX: one-symbol-per-line key file (PaddleOCR ppocr_keys_v1.txt)")
    ap.add_argument("--preset", choices=("ppocr", "easyocr", "ppocr_det", "ppocr_cls"), help="ONNX: whose conventions to record (default: guessed)")
    ap.add_argument("--height", type=int, help="ONNX: input height when the graph's is dynamic (ppocr: 32)")
    ap.add_argument("--right-margin", type=int, help="ppocr: zero columns appended after each line (default 64)")
    ap.add_argument("--merge-linears", choices=("auto", "always", "never"), default="auto",
                    help="ONNX: merge consecutive linears (auto: only when it saves multiply-adds)")
    ap.add_argument("--int8", action="store_true", help="int8 weights + calibrated activation scales (tinycrnn.quant)")
    ap.add_argument("--calibration", metavar="DIR", help="--int8: line images to calibrate on (default: built-in rendered lines)")
    ap.add_argument("--weight-rounding", choices=("nearest", "mse", "gptq", "gptq_conv"), default="nearest",
                    help="--int8: nearest = max|row|/127 scales, round half even; mse = per-row clip with the least "
                         "squared error; gptq = mse scales + GPTQ error feedback on the calibration inputs (slower); "
                         "gptq_conv = gptq for convs, mse for LSTM/linear (english_g2's shipped int8 file)")
    ap.add_argument("--fp32-layers", metavar="NAMES", default="",
                    help="--int8: comma-separated layer names to keep in FP32 (e.g. head,rnn.1.proj)")
    ap.add_argument("--signed-pointwise", action="store_true",
                    help="--int8: also quantise 1x1 convs whose inputs can be negative (PP-OCR's follow HardSwish), "
                         "int8 inputs with one dynamic scale per pixel")
    args = ap.parse_args(argv)
    try:
        manifest = convert_checkpoint(args.src, args.dst, name=args.name, charset=args.charset, preset=args.preset,
                                      height=args.height, right_margin=args.right_margin,
                                      merge_linears=args.merge_linears, int8=args.int8, calibration=args.calibration,
                                      weight_rounding=args.weight_rounding,
                                      fp32_layers=[n for n in args.fp32_layers.split(",") if n],
                                      signed_pointwise=args.signed_pointwise)
        from tinycrnn import load_model

        model = load_model(args.dst, backend="numpy")
    except (TinyCRNNError, OSError) as exc:
        print(f"convert_weights: {exc}", file=sys.stderr)
        return 1
    size = os.path.getsize(args.dst)
    what = (f"{len(model.charset)} classes, min width {model.min_width}" if model.task == "recognize"
            else f"task {model.task}")
    print(f"wrote {args.dst}: {size / 1e6:.2f} MB, {len(manifest['arch']['layers'])} layers, {what}")
    worst = (manifest.get("quant") or {}).get("worst_weight_error")
    if worst:
        print(f"int8: worst per-tensor quantisation error in {worst['tensor']}: relative RMSE {worst['rel_rmse']:.3e}, "
              f"max |error| {worst['max_abs']:.3e}; calibration: {manifest['quant']['calibration']['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
