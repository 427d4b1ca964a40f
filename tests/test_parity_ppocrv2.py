"""Parity with onnxruntime on the shipped PP-OCRv2 model (weights/ppocrv2_zh.tcrnn), both backends.

Golden lines are copied from shared/models/ppocrv2-rec-ch/golden into tests/data/ppocrv2:
``x`` is the exact input tensor, ``top5_idx`` / ``top5_prob`` onnxruntime 1.32's top-5 classes
and probabilities at every time step.
"""
import json
import os

import numpy as np
import pytest

from conftest import DATA
from tinycrnn.decode import ctc_greedy
from tolerances import BATCH_PROBS_ATOL

GOLDEN = os.path.join(DATA, "ppocrv2")
#: FP32 probabilities vs onnxruntime (absolute); the issue's acceptance bound.
PROB_ATOL = 1e-4


def _expected():
    with open(os.path.join(GOLDEN, "expected.json"), encoding="utf-8") as f:
        return json.load(f)["samples"]


@pytest.fixture(scope="module", params=["numpy", "numba"])
def ppocr(request):
    import tinycrnn

    return tinycrnn.load_model("ppocrv2_zh", backend=request.param)


@pytest.mark.parametrize("sample", _expected(), ids=lambda s: s["file"])
def test_ppocrv2_top1_and_probs_match_onnxruntime_every_step(ppocr, sample):
    g = np.load(os.path.join(GOLDEN, sample["file"].replace(".png", ".npz")))
    probs = ppocr.forward(g["x"])[0]
    assert probs.shape == tuple(sample["output_shape"][1:])
    np.testing.assert_array_equal(probs.argmax(axis=1), g["top5_idx"][:, 0])
    got = np.take_along_axis(probs, g["top5_idx"].astype(np.int64), axis=1)
    np.testing.assert_allclose(got, g["top5_prob"], rtol=0, atol=PROB_ATOL)
    assert ctc_greedy(probs, ppocr.charset, ppocr.blank_index).text == sample["decoded_by_onnxruntime"]


def test_ppocrv2_batch_equals_single_lines(ppocr):
    xs = [np.load(os.path.join(GOLDEN, f"{n}.npz"))["x"] for n in ("zh", "mix")]
    batch = ppocr.forward(np.concatenate(xs))
    for i, x in enumerate(xs):
        np.testing.assert_allclose(batch[i], ppocr.forward(x)[0], rtol=0, atol=BATCH_PROBS_ATOL)


def test_ppocrv2_manifest_conventions():
    import tinycrnn

    m = tinycrnn.load_model("ppocrv2_zh", backend="numpy")
    assert (m.channels, m.height, len(m.charset), m.blank_index) == (3, 32, 6625, 0)
    assert m.charset[0] == "" and m.charset[-1] == " " and "\u3000" in m.charset
    assert m.output_kind == "probs"
    pre = m.manifest["preprocess"]
    assert (pre["color"], pre["pad"], pre["pad_value"], pre["min_width"]) == ("bgr", "constant", 0.0, 320)
    assert m.manifest["producer"]["license"] == "Apache-2.0" and "PaddleOCR" in m.manifest["producer"]["attribution"]


@pytest.mark.parametrize("alias", ["ppocrv2_zh", "zh", "ch"])
def test_ppocrv2_recognizer_reads_golden_pngs(alias):
    import tinycrnn

    rec = tinycrnn.Recognizer(model=alias)
    for sample in _expected():
        assert rec.recognize(os.path.join(GOLDEN, sample["file"])).text == sample["decoded_by_onnxruntime"]


def test_ppocrv2_reference_preprocessing_reproduces_golden_tensor():
    """With the reference's zero right margin, the product preprocessing gives the golden ``x``."""
    import tinycrnn
    from tinycrnn.preprocess import prepare_lines

    rec = tinycrnn.Recognizer(model="ppocrv2_zh")
    rec.spec.right_margin = 0
    for sample in _expected():
        x = prepare_lines([rec.load(os.path.join(GOLDEN, sample["file"]))], rec.spec)
        g = np.load(os.path.join(GOLDEN, sample["file"].replace(".png", ".npz")))["x"]
        assert x.shape == g.shape
        np.testing.assert_allclose(x, g, rtol=0, atol=1e-6)


def test_ppocrv2_cli_read(capsys):
    from tinycrnn.cli import main

    rc = main(["read", "--model", "ppocrv2_zh", os.path.join(GOLDEN, "zh.png")])
    assert rc in (0, None)
    assert "中文识别测试123" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_ppocrv2_int8_reads_golden_lines_as_fp32(backend):
    """weights/ppocrv2_zh_int8.tcrnn: same greedy text as FP32 on every golden line, NMSE bounded."""
    import tinycrnn
    from tolerances import INT8_PPOCR_PROBS_NMSE

    fp32 = tinycrnn.load_model("ppocrv2_zh", backend=backend)
    int8 = tinycrnn.load_model("ppocrv2_zh-int8", backend=backend)
    assert int8.manifest["quant"]["quant_version"] == 1
    for sample in _expected():
        x = np.load(os.path.join(GOLDEN, sample["file"].replace(".png", ".npz")))["x"]
        want, got = fp32.forward(x)[0], int8.forward(x)[0]
        assert ctc_greedy(got, int8.charset, int8.blank_index).text == ctc_greedy(want, fp32.charset, fp32.blank_index).text
        nmse = float(((got - want) ** 2).sum() / (want ** 2).sum())
        assert nmse <= INT8_PPOCR_PROBS_NMSE, (sample["file"], nmse)
