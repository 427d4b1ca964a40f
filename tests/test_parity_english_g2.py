"""Parity with the PyTorch reference on the shipped english_g2 model, in both kernel backends.

Cases are copied from shared/reference/english_g2 into tests/data/english_g2.
"""
import os

import cv2
import numpy as np
import pytest

from conftest import REF
from tinycrnn.decode import ctc_greedy, softmax
from tinycrnn.preprocess import LineSpec, prepare_lines
from tolerances import CONFIDENCE_ATOL, INPUT_ATOL, INTERMEDIATE_ATOL, LOGITS_ATOL


def _load(name):
    return np.load(os.path.join(REF, name))


def test_parity_logits_text_confidence_every_case(english_g2, ref_cases):
    for case in ref_cases["cases"]:
        logits = english_g2.forward(_load(case["input"]))[0]
        ref = _load(case["logits"])
        assert logits.shape == ref.shape, case["name"]
        np.testing.assert_allclose(logits, ref, atol=LOGITS_ATOL, rtol=0, err_msg=case["name"])
        dec = ctc_greedy(softmax(logits), english_g2.charset)
        assert dec.text == case["text"], case["name"]
        assert abs(dec.confidence - case["confidence"]) <= CONFIDENCE_ATOL, case["name"]
        assert list(logits.argmax(1)) == case["argmax"], case["name"]


def test_parity_batch_of_three(english_g2, ref_cases):
    batch = ref_cases["batch"]
    logits = english_g2.forward(_load(batch["input"]))
    ref = _load(batch["logits"])
    np.testing.assert_allclose(logits, ref, atol=LOGITS_ATOL, rtol=0)
    for i, text in enumerate(batch["text"]):
        dec = ctc_greedy(softmax(logits[i]), english_g2.charset)
        assert dec.text == text
        assert abs(dec.confidence - batch["confidence"][i]) <= CONFIDENCE_ATOL


def test_parity_intermediates_layer_by_layer(english_g2):
    inter = np.load(os.path.join(REF, "s01_hello.intermediates.npz"))
    # reference stage name -> index of the op whose output it is
    stages = {
        "stage1_pool": 1, "stage2_pool": 3, "stage3_pool": 6, "stage4a_conv11_bn_relu": 7, "stage4_pool": 9,
        "cnn_out": 10, "seq_in": 11, "bilstm1_rnn": 12, "bilstm1_out": 13, "bilstm2_rnn": 14, "bilstm2_out": 15,
        "logits": 16,
    }
    y = inter["input"]
    outputs = []
    for op in english_g2.ops:
        y = op(y)
        outputs.append(y)
    for stage, idx in stages.items():
        np.testing.assert_allclose(outputs[idx], inter[stage], atol=INTERMEDIATE_ATOL, rtol=0, err_msg=stage)


def test_preprocess_reproduces_reference_inputs(ref_cases):
    import tinycrnn

    spec = LineSpec.from_manifest(tinycrnn.load_model(backend="numpy").manifest)
    for case in ref_cases["cases"]:
        gray = cv2.imread(os.path.join(REF, case["image"]), cv2.IMREAD_GRAYSCALE)
        x = prepare_lines([gray], spec)
        np.testing.assert_allclose(x, _load(case["input"]), atol=INPUT_ATOL, rtol=0, err_msg=case["name"])
    imgs = [cv2.imread(os.path.join(REF, f"{n}.png"), cv2.IMREAD_GRAYSCALE) for n in ref_cases["batch"]["members"]]
    np.testing.assert_allclose(prepare_lines(imgs, spec), _load(ref_cases["batch"]["input"]), atol=INPUT_ATOL, rtol=0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recognizer_reads_reference_images_end_to_end(backend, ref_cases):
    from tinycrnn import Recognizer

    rec = Recognizer(backend=backend)
    cases = ref_cases["cases"]
    results = rec.recognize_batch([os.path.join(REF, c["image"]) for c in cases])
    for case, res in zip(cases, results):
        assert res.text == case["text"], case["name"]
        assert abs(res.confidence - case["confidence"]) <= CONFIDENCE_ATOL, case["name"]
        assert len(res.char_confidences) == len(res.text)


def test_tall_crops_follow_easyocr_two_stage_resize():
    """Crops taller than wide: width -> 64 (bilinear), then Pillow-style bicubic squeeze; W = ceil(h/w) * 64."""
    import tinycrnn
    from tinycrnn.preprocess import line_ratio, resize_line

    spec = LineSpec.from_manifest(tinycrnn.load_model(backend="numpy").manifest)
    tall = np.random.default_rng(0).integers(0, 256, (90, 40), dtype=np.uint8)
    x = resize_line(tall, spec)
    assert x.shape == (1, 64, 29)  # stage 1: 64 x int(64 * 90/40) = 144 rows; ceil(64 * 64 / 144) = 29
    assert line_ratio(tall, spec) == 90 / 40
    assert prepare_lines([tall], spec).shape == (1, 1, 64, 192)


def test_pil_bicubic_resize_matches_pillow_when_available():
    from tinycrnn.resample import pil_bicubic_resize

    const = np.full((50, 30), 77, np.uint8)
    assert (pil_bicubic_resize(const, 11, 19) == 77).all()
    Image = pytest.importorskip("PIL.Image", reason="Pillow not installed; the exact comparison needs it")
    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = rng.integers(1, 120, 2)
        nw = int(rng.integers(1, 120))
        a = rng.integers(0, 256, (h, w), dtype=np.uint8)
        # one axis at a time: Pillow's own pass order for two-axis resizes varies between versions
        want = np.asarray(Image.fromarray(a).resize((nw, int(h)), Image.BICUBIC))
        np.testing.assert_array_equal(pil_bicubic_resize(a, nw, int(h)), want)
