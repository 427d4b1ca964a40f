"""onnxruntime stand-ins for ``tinycrnn.load_model("ppocrv4_det")`` and ``load_model("ppocr_cls")``.

Benchmarks and tests only (onnxruntime is a bench extra, never imported by the package): they let
the DB page path be measured before the engine's graph models land. Same interface as the engine
models: ``forward(x)`` on float32 NCHW normalised input; the detector returns the (N, 1, H, W)
probability map, the classifier (N, 2) probabilities over ['0", "180'].
"""
import os

import numpy as np
from _shared import shared_path

MODEL_DIR = os.environ.get("TINYCRNN_PPOCR_DET_DIR", shared_path("models", "ppocr-det-cls"))
FILES = {"ppocrv4_det": "ch_PP-OCRv4_det_infer.onnx", "ppocr_cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx"}


class OrtModel:
    def __init__(self, name: str, threads: int = 1):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.name = name + "_ort"
        self.task = "detect" if name == "ppocrv4_det" else "classify"
        self.sess = ort.InferenceSession(os.path.join(MODEL_DIR, FILES[name]), so, providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {self.input: np.ascontiguousarray(x, np.float32)})[0]


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return all(os.path.isfile(os.path.join(MODEL_DIR, f)) for f in FILES.values())
