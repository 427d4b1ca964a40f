#!/usr/bin/env python3
"""Write the onnxruntime reference outputs of the PP-OCRv4 detector and the orientation classifier
that tests/test_parity_det_cls.py compares against (tests/data/ppocr_det_cls/), from samples/ images.

    python tools/make_graph_fixtures.py --onnx-dir MODELS/ppocr-det-cls

(``MODELS``: the folder with the reference checkpoints; the ppocr-det-cls folder holds both ONNX files.)

Needs onnxruntime (bench extra). Inputs are stored as uint8 BGR pixels (the float input is
``(u8/255 - 0.5)/0.5``, exact in float32), outputs as float32.
"""
import argparse
import math
import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "ppocr_det_cls")


def normalise(u8):  # (..., H, W, 3) uint8 BGR -> (..., 3, H, W) float32
    x = (u8.astype(np.float32) / 255.0 - 0.5) / 0.5
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def cls_crop(img):  # RapidOCR's classifier input: height 48, width ceil(48 w / h) capped at 192, zero-padded
    h, w = img.shape[:2]
    rw = min(192, int(math.ceil(48 * w / h)))
    return cv2.resize(img, (rw, 48)), rw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx-dir", required=True, help="folder with the PP-OCR detector and classifier ONNX files")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    det = ort.InferenceSession(os.path.join(args.onnx_dir, "ch_PP-OCRv4_det_infer.onnx"), so,
                               providers=["CPUExecutionProvider"])
    cls = ort.InferenceSession(os.path.join(args.onnx_dir, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), so,
                               providers=["CPUExecutionProvider"])
    os.makedirs(OUT, exist_ok=True)
    page = cv2.resize(cv2.imread(os.path.join(ROOT, "samples", "receipt.png")), (320, 192), interpolation=cv2.INTER_AREA)
    prob = det.run(None, {"x": normalise(page)[None]})[0]
    np.savez_compressed(os.path.join(OUT, "det_receipt.npz"), image=page, prob=prob)
    lines = []
    for name in ("hello_world.png", "invoice_line.png", "who_cook.png"):
        img = cv2.imread(os.path.join(ROOT, "samples", name))
        for im in (img, cv2.rotate(img, cv2.ROTATE_180)):
            crop, rw = cls_crop(im)
            padded = np.zeros((48, 192, 3), np.uint8)
            padded[:, :rw] = crop
            lines.append((padded, rw))
    images = np.stack([p for p, _ in lines])
    x = normalise(images)
    for i, (_, rw) in enumerate(lines):
        x[i, :, :, rw:] = 0.0  # RapidOCR pads the normalised tensor with 0.0, not the pixel value 0
    probs = cls.run(None, {"x": x})[0]
    np.savez_compressed(os.path.join(OUT, "cls_lines.npz"), image=images, width=np.array([w for _, w in lines]),
                        probs=probs)
    print(f"det prob map {prob.shape}, max {prob.max():.3f}; cls probs:\n{probs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
