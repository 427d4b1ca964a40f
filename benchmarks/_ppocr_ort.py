"""Stand-in for ``Recognizer(model="ppocrv2_zh")`` built on onnxruntime and the shared ONNX file.

Benchmarks only (onnxruntime is a bench extra): lets the page pipeline be measured with the
PP-OCRv2 recognizer before its .tcrnn conversion lands. Same preprocessing conventions as the
model card: BGR, height 32, bilinear ceil width, 0.0 right pad, minimum width 320.
"""
import os
from typing import List

import numpy as np

from tinycrnn.decode import ctc_greedy
from tinycrnn.preprocess import LineSpec
from _shared import shared_path

MODEL_DIR = os.environ.get("TINYCRNN_PPOCR_DIR", shared_path("models", "ppocrv2-rec-ch"))


class _OrtModel:
    output_kind = "probs"
    blank_index = 0
    channels = 3
    height = 32
    min_width = 4
    name = "ppocrv2_ort"

    def __init__(self, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(os.path.join(MODEL_DIR, "ch_PP-OCRv2_rec_infer.onnx"), so,
                                         providers=["CPUExecutionProvider"])
        with open(os.path.join(MODEL_DIR, "ppocr_keys_v1.txt"), encoding="utf-8") as f:
            keys = [k.rstrip("\r") for k in f.read().split("\n")]
        self.charset: List[str] = [""] + keys + [" "]
        self.manifest = {"preprocess": {}, "decode": {"output": "probs"}}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0]


class OrtRecognizer:
    """Duck-types the parts of tinycrnn.Recognizer the page pipeline uses."""

    def __init__(self, threads: int = 1, right_margin: int = 0, min_width: int = 320):
        self.model = _OrtModel(threads)
        self.spec = LineSpec({"color": "bgr", "height": 32, "resize": "bilinear_ceil", "width_rule": "max_ratio_x_height",
                              "min_width": min_width, "width_multiple": 4, "pad": "constant", "pad_value": 0.0,
                              "right_margin": right_margin}, 3)

    @property
    def charset(self):
        return self.model.charset

    def decode(self, probs, **opts):
        if opts:
            from tinycrnn.decode import decode

            return decode(probs, self.model.charset, blank=0, **opts)
        return ctc_greedy(probs, self.model.charset, 0)

    def probabilities(self, images):
        from tinycrnn.preprocess import line_ratio, pad_lines, resize_line, target_width

        out = []
        for img in images:
            x = resize_line(img, self.spec)
            w = target_width([line_ratio(img, self.spec)], [x.shape[2]], self.spec)
            out.append(self.model.forward(pad_lines([x], w, self.spec))[0])
        return out
