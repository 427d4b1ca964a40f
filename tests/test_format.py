"""The .tcrnn container: write->read identity, and a typed error for every kind of damage."""
import json
import os
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycrnn
from tinycrnn.engine import resolve_model_path
from tinycrnn.errors import UnknownOpError, UnsupportedVersionError, WeightFormatError
from tinycrnn.modelfile import read_model, write_model

SHIPPED = resolve_model_path("english_g2")

TINY_MANIFEST = {
    "name": "tiny",
    "arch": {"name": "tiny", "input": {"channels": 1, "height": 4},
             "layers": [{"op": "conv2d", "name": "c", "out": 2, "k": [4, 1], "act": "relu"},
                        {"op": "mean_height"},
                        {"op": "linear", "name": "head", "out": 3}]},
    "charset": {"blank_index": 0, "chars": ["a", "b"]},
    "preprocess": {"color": "gray", "height": 4},
    "decode": {"output": "logits"},
}


def tiny_tensors():
    rng = np.random.default_rng(0)
    return {"c.weight": rng.standard_normal((2, 1, 4, 1)).astype(np.float32), "c.bias": np.zeros(2, np.float32),
            "head.weight": rng.standard_normal((3, 2)).astype(np.float32), "head.bias": np.zeros(3, np.float32)}


def _header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return n, json.loads(f.read(n)), f.read()


def _rewrite(path, header, data):
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)


@given(st.dictionaries(
    st.text("abcdefgh._", min_size=1, max_size=8).filter(lambda s: s != "__metadata__"),
    st.sampled_from([np.float32, np.int8, np.int32, np.float16]).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))),
    max_size=5))
def test_format_write_read_is_identity(tmp_path_factory, tensors):
    path = str(tmp_path_factory.mktemp("fmt") / "m.tcrnn")
    write_model(path, tensors, TINY_MANIFEST)
    mf = read_model(path)
    assert set(mf.tensors) == set(tensors)
    for k, v in tensors.items():
        assert mf.tensors[k].dtype == v.dtype and mf.tensors[k].shape == v.shape
        np.testing.assert_array_equal(mf.tensors[k], v)
    assert mf.manifest["charset"] == TINY_MANIFEST["charset"]
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    assert (8 + n) % 64 == 0


def test_format_tiny_model_runs(tmp_path):
    path = str(tmp_path / "tiny.tcrnn")
    write_model(path, tiny_tensors(), TINY_MANIFEST)
    m = tinycrnn.load_model(path, backend="numpy")
    assert m.forward(np.zeros((2, 1, 4, 5), np.float32)).shape == (2, 5, 3)
    assert m.charset == ["", "a", "b"] and m.min_width == 1


def test_format_shipped_model_manifest_is_complete():
    man = read_model(SHIPPED).manifest
    assert man["format"] == "tinycrnn" and man["format_version"] == 1
    assert man["producer"]["license"] == "Apache-2.0"
    assert man["producer"]["source_sha256"] == "e2272681d9d67a04e2dff396b6e95077bc19001f8f6d3593c307b9852e1c29e8"
    assert man["charset"]["blank_index"] == 0 and len(man["charset"]["chars"]) == 96
    assert man["preprocess"]["pad"] == "repeat_last_column"


@pytest.mark.parametrize("cut", [0, 4, 8, 9, 100, 1000])
def test_format_truncated_header_raises(tmp_path, cut):
    path = tmp_path / "cut.tcrnn"
    path.write_bytes(open(SHIPPED, "rb").read()[:cut])
    with pytest.raises(WeightFormatError):
        read_model(str(path))


def test_format_truncated_at_every_header_byte_raises(tmp_path):
    src = str(tmp_path / "tiny.tcrnn")
    write_model(src, tiny_tensors(), TINY_MANIFEST)
    data = open(src, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    for cut in range(0, 8 + n + 8, 7):
        p = tmp_path / f"cut{cut}.tcrnn"
        p.write_bytes(data[:cut])
        with pytest.raises(WeightFormatError):
            read_model(str(p))


def test_format_truncated_tensor_data_raises(tmp_path):
    path = tmp_path / "cut.tcrnn"
    data = open(SHIPPED, "rb").read()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(WeightFormatError, match="run past|trailing|truncated"):
        read_model(str(path))


def test_format_non_json_header_raises(tmp_path):
    p = tmp_path / "x.tcrnn"
    p.write_bytes(struct.pack("<Q", 5) + b"\xff\xfe{[(")
    with pytest.raises(WeightFormatError, match="JSON"):
        read_model(str(p))


def test_format_missing_manifest_raises(tmp_path):
    p = tmp_path / "plain.safetensors"
    _rewrite(p, {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(WeightFormatError, match="manifest"):
        read_model(str(p))


def _tiny(tmp_path):
    path = str(tmp_path / "tiny.tcrnn")
    write_model(path, tiny_tensors(), TINY_MANIFEST)
    return path


def test_format_newer_version_refused_with_both_numbers(tmp_path):
    path = _tiny(tmp_path)
    _, header, data = _header(path)
    man = json.loads(header["__metadata__"]["tinycrnn"])
    man["format_version"] = 99
    header["__metadata__"]["tinycrnn"] = json.dumps(man)
    _rewrite(path, header, data)
    with pytest.raises(UnsupportedVersionError, match="99.*<=2"):
        read_model(path)


@pytest.mark.parametrize("damage,match", [
    (lambda h: h["c.weight"].update(data_offsets=[0, 12]), "c.weight"),
    (lambda h: h["c.weight"].update(dtype="F64"), "c.weight"),
    (lambda h: h["c.weight"].update(shape=[2, 1, 4, 2]), "c.weight"),
    (lambda h: h["c.bias"].update(data_offsets=h["c.weight"]["data_offsets"]), "overlap|gap|bytes"),
    (lambda h: h["head.bias"].update(data_offsets=[10**9, 10**9 + 12]), "head.bias"),
    (lambda h: h["c.weight"].update(shape="big"), "c.weight"),
])
def test_format_bad_tensor_table_raises_naming_tensor(tmp_path, damage, match):
    path = _tiny(tmp_path)
    _, header, data = _header(path)
    damage(header)
    _rewrite(path, header, data)
    with pytest.raises(WeightFormatError, match=match):
        read_model(path)


def test_format_unknown_op_lists_known_ops(tmp_path):
    man = json.loads(json.dumps(TINY_MANIFEST))
    man["arch"]["layers"][1] = {"op": "transformer"}
    path = str(tmp_path / "t.tcrnn")
    write_model(path, tiny_tensors(), man)
    with pytest.raises(UnknownOpError, match="transformer.*conv2d"):
        tinycrnn.load_model(path)


def test_format_mismatched_tensor_shape_names_tensor(tmp_path):
    t = tiny_tensors()
    t["head.weight"] = np.zeros((3, 5), np.float32)
    path = str(tmp_path / "t.tcrnn")
    write_model(path, t, TINY_MANIFEST)
    with pytest.raises(WeightFormatError, match="head.weight"):
        tinycrnn.load_model(path)


def test_format_missing_and_extra_tensors_raise(tmp_path):
    t = tiny_tensors()
    del t["head.weight"]
    path = str(tmp_path / "t.tcrnn")
    write_model(path, t, TINY_MANIFEST)
    with pytest.raises(WeightFormatError, match="head.weight"):
        tinycrnn.load_model(path)
    t = tiny_tensors()
    t["evil"] = np.zeros(3, np.float32)
    write_model(path, t, TINY_MANIFEST)
    with pytest.raises(WeightFormatError, match="evil"):
        tinycrnn.load_model(path)


def test_format_charset_size_must_match_head(tmp_path):
    man = json.loads(json.dumps(TINY_MANIFEST))
    man["charset"]["chars"] = ["a"]
    path = str(tmp_path / "t.tcrnn")
    write_model(path, tiny_tensors(), man)
    with pytest.raises(WeightFormatError, match="charset"):
        tinycrnn.load_model(path)


def test_format_no_pickle_anywhere():
    root = os.path.dirname(tinycrnn.__file__)
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith(".py") and fn != "pth.py":
                src = open(os.path.join(dirpath, fn), encoding="utf-8").read()
                assert "import pickle" not in src and "np.load(" not in src, fn
