"""PP-OCRv4 DB detector and the 0/180 orientation classifier (weights/ppocrv4_det.tcrnn,
weights/ppocr_cls.tcrnn) against onnxruntime: committed reference outputs on samples/ images
(tests/data/ppocr_det_cls, made by tools/make_graph_fixtures.py), so parity runs without
onnxruntime, plus a live comparison on random inputs when onnxruntime and the ONNX files exist."""
import os

import numpy as np
import pytest

import tinycrnn
from conftest import DATA, SHARED
from tolerances import CLS_PROB_ATOL, DET_PROB_ATOL, DET_THRESH_FLIP_FRACTION

FIX = os.path.join(DATA, "ppocr_det_cls")
ONNX_DIR = os.path.join(SHARED, "models", "ppocr-det-cls")


def _normalise(u8):
    x = (u8.astype(np.float32) / 255.0 - 0.5) / 0.5
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


@pytest.fixture(scope="module", params=["numba", "numpy"])
def backend(request):
    return request.param


def test_detector_probability_map_matches_onnxruntime_reference(backend):
    ref = np.load(os.path.join(FIX, "det_receipt.npz"))
    det = tinycrnn.load_model("ppocrv4_det", backend=backend)
    assert det.task == "detect" and det.manifest["preprocess"]["limit_side_len"] == 736
    prob = det.forward(_normalise(ref["image"])[None])
    assert prob.shape == ref["prob"].shape == (1, 1, 192, 320) and prob.dtype == np.float32
    np.testing.assert_allclose(prob, ref["prob"], rtol=0, atol=DET_PROB_ATOL)
    assert np.mean((prob > 0.3) != (ref["prob"] > 0.3)) <= DET_THRESH_FLIP_FRACTION
    assert (ref["prob"] > 0.3).mean() > 0.02  # the page has text: the comparison is not vacuous


def test_classifier_probabilities_match_onnxruntime_reference(backend):
    ref = np.load(os.path.join(FIX, "cls_lines.npz"))
    x = _normalise(ref["image"])
    for i, w in enumerate(ref["width"]):
        x[i, :, :, w:] = 0.0
    cls = tinycrnn.load_model("ppocr_cls", backend=backend)
    assert cls.labels == ["0", "180"]
    probs = cls.forward(x)
    assert probs.shape == (6, 2)
    np.testing.assert_allclose(probs, ref["probs"], rtol=0, atol=CLS_PROB_ATOL)
    assert list(probs.argmax(1)) == [0, 1, 0, 1, 0, 1]  # each line upright, then turned by 180 degrees


def _ort(name):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (bench extra) not installed")
    path = os.path.join(ONNX_DIR, name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} not present (shared models folder)")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def test_detector_matches_onnxruntime_live_on_an_odd_size():
    sess = _ort("ch_PP-OCRv4_det_infer.onnx")
    rng = np.random.default_rng(0)
    # a smooth random "page" (noise up-sampled), 96 x 160: every FPN level has an odd size
    x = np.repeat(np.repeat(rng.uniform(-1, 1, (1, 3, 12, 20)).astype(np.float32), 8, 2), 8, 3)
    want = sess.run(None, {"x": x})[0]
    got = tinycrnn.load_model("ppocrv4_det").forward(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=DET_PROB_ATOL)


def test_classifier_matches_onnxruntime_live_on_a_batch():
    sess = _ort("ch_ppocr_mobile_v2.0_cls_infer.onnx")
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3, 48, 192)).astype(np.float32)
    np.testing.assert_allclose(tinycrnn.load_model("ppocr_cls").forward(x), sess.run(None, {"x": x})[0],
                               rtol=0, atol=CLS_PROB_ATOL)


def test_detector_refuses_sizes_that_are_not_multiples_of_32():
    det = tinycrnn.load_model("ppocrv4_det", backend="numpy")
    with pytest.raises(tinycrnn.InputTypeError, match="H%32==0"):
        det.forward(np.zeros((1, 3, 100, 64), np.float32))


def test_detector_batch_equals_single_pages(backend):
    ref = np.load(os.path.join(FIX, "det_receipt.npz"))
    x = _normalise(ref["image"])[None]
    det = tinycrnn.load_model("ppocrv4_det", backend=backend)
    both = det.forward(np.concatenate([x, x[:, :, ::-1].copy()]))
    np.testing.assert_allclose(both[:1], det.forward(x), rtol=0, atol=DET_PROB_ATOL)
    np.testing.assert_allclose(both[1:], det.forward(x[:, :, ::-1].copy()), rtol=0, atol=DET_PROB_ATOL)
