"""Each model's line confidence follows the rule its manifest names (docs/DECODING.md)."""
import json
import os

import numpy as np
import pytest

import tinycrnn
from conftest import DATA
from tinycrnn.errors import WeightFormatError

PP = os.path.join(DATA, "ppocrv2")


def test_confidence_paddle_rule_reproduces_onnxruntime_reference_means():
    rec = tinycrnn.Recognizer("ppocrv2_zh")
    assert rec.confidence_rule == "mean_max_prob"
    expected = json.load(open(os.path.join(PP, "expected.json"), encoding="utf-8"))
    for sample in expected["samples"]:
        name = os.path.splitext(sample["file"])[0]
        x = np.load(os.path.join(PP, name + ".npz"))["x"]
        res = rec.decode(rec.model.forward(x)[0])
        assert res.text == sample["decoded_by_onnxruntime"]
        assert abs(res.confidence - sample["mean_conf"]) <= 6e-5  # the reference is rounded to 4 places


def test_confidence_easyocr_rule_is_english_g2s():
    rec = tinycrnn.Recognizer("english_g2")
    assert rec.confidence_rule == "prod_max_prob_pow_2_over_sqrt_n"


def test_confidence_unknown_rule_is_refused(tmp_path):
    from test_format import TINY_MANIFEST, tiny_tensors
    from tinycrnn.modelfile import write_model

    man = json.loads(json.dumps(TINY_MANIFEST))
    man["decode"]["confidence"] = "vibes"
    path = str(tmp_path / "t.tcrnn")
    write_model(path, tiny_tensors(), man)
    with pytest.raises(WeightFormatError, match="vibes"):
        tinycrnn.Recognizer(path)
