"""The ONNX importer: synthetic graphs against onnxruntime, the real PP-OCRv2 and english_g2 files,
bad files, and the charset reader.

Tests needing the ``onnx`` package skip with a reason when it is missing; tests on the real
model files skip when ``shared/`` is not beside the repository (a fresh clone).
"""
import os
import sys

import numpy as np
import pytest

from conftest import DATA, ROOT, SHARED
from tinycrnn.convert.onnx_import import merge_linears, read_charset_lines
from tinycrnn.engine import resolve_model_path
from tinycrnn.errors import MissingDependencyError, WeightFormatError
from tinycrnn.modelfile import read_model

PPOCR_ONNX = os.path.join(SHARED, "models", "ppocrv2-rec-ch", "ch_PP-OCRv2_rec_infer.onnx")
PPOCR_KEYS = os.path.join(SHARED, "models", "ppocrv2-rec-ch", "ppocr_keys_v1.txt")
EG2_ONNX = os.path.join(SHARED, "models", "english_g2.onnx")
#: synthetic graphs, tinycrnn vs onnxruntime (values O(1))
SYNTH_ATOL = 2e-5

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # pragma: no cover - exercised only without the convert extra
    onnx = None
needs_onnx = pytest.mark.skipif(onnx is None, reason="the 'onnx' package (tinycrnn[convert]) is not installed")


def _needs_file(path):
    return pytest.mark.skipif(not os.path.exists(path), reason=f"{path} not present (shared/ is not beside this clone)")


# -- charset ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, want",
    [
        (b"a\r\nb\r\n\xe3\x80\x80\r\nc", ["a", "b", "\u3000", "c"]),  # CRLF, U+3000, no final newline
        (b"a\nb\n", ["a", "b"]),  # LF with a final newline
        (b"a\r\nb\r\n", ["a", "b"]),  # CRLF with a final newline
        (b"\xef\xbb\xbfa\n \nb", ["a", " ", "b"]),  # BOM dropped; a space entry kept
        (b"\xe3\x80\x80", ["\u3000"]),  # a lone U+3000 line survives (str.strip would eat it)
        (b"x\ry\r\n", ["x\ry"]),  # only a trailing \r is removed
    ],
)
def test_read_charset_lines_keeps_every_symbol(tmp_path, raw, want):
    p = tmp_path / "keys.txt"
    p.write_bytes(raw)
    assert read_charset_lines(str(p)) == want


@pytest.mark.parametrize("raw", [b"a\n\nb", b"a\r\n\r\nb", b"\xff\xfe"])
def test_read_charset_lines_rejects_empty_entries_and_non_utf8(tmp_path, raw):
    p = tmp_path / "keys.txt"
    p.write_bytes(raw)
    with pytest.raises(WeightFormatError):
        read_charset_lines(str(p))


@_needs_file(PPOCR_KEYS)
def test_ppocr_keys_file_reads_6623_entries():
    chars = read_charset_lines(PPOCR_KEYS)
    assert len(chars) == 6623 and "\u3000" in chars and all(c and "\r" not in c for c in chars)


# -- linear merging -----------------------------------------------------------------------------


def test_merge_linears_auto_merges_only_when_cheaper():
    rng = np.random.default_rng(0)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    for mid, mode in ((96, "auto"), (8, "always")):  # 16->96->50 is cheaper merged; 16->8->50 is not
        layers = [{"op": "linear", "name": "a", "out": mid, "act": "none"}, {"op": "linear", "name": "b", "out": 50}]
        t = {"a.weight": f(mid, 16), "a.bias": f(mid), "b.weight": f(50, mid), "b.bias": f(50)}
        x = f(5, 16)
        want = (x @ t["a.weight"].T + t["a.bias"]) @ t["b.weight"].T + t["b.bias"]
        merge_linears(layers, t, mode)
        assert len(layers) == 1 and set(t) == {"b.weight", "b.bias"}
        np.testing.assert_allclose(x @ t["b.weight"].T + t["b.bias"], want, rtol=1e-4, atol=1e-4)
    layers = [{"op": "linear", "name": "a", "out": 8, "act": "none"}, {"op": "linear", "name": "b", "out": 50}]
    merge_linears(layers, {"a.weight": f(8, 16), "a.bias": f(8), "b.weight": f(50, 8), "b.bias": f(50)}, "auto")
    assert len(layers) == 2
    layers = [{"op": "linear", "name": "a", "out": 96, "act": "none"}, {"op": "linear", "name": "b", "out": 6625}]
    t = {"a.weight": f(96, 128), "a.bias": f(96), "b.weight": f(6625, 96), "b.bias": f(6625)}
    merge_linears(layers, t, "auto")  # PP-OCR's head: merging would add 30% multiply-adds
    assert len(layers) == 2


# -- synthetic graphs vs onnxruntime ------------------------------------------------------------


def _const(nodes, name, arr):
    nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr), name)))
    return name


def _ppocr_like_graph(seed=0, extra=None):
    """A miniature PP-OCRv2: HardSwish in three spellings, BN, depthwise (2,1), SE, two BiLSTMs whose
    weights are assembled by Slice/Concat at run time, zero states from Shape/ConstantOfShape,
    two linears and a Softmax."""
    rng = np.random.default_rng(seed)
    f = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)  # noqa: E731
    n = []
    k = [0]

    def c(arr):
        k[0] += 1
        return _const(n, f"const{k[0]}", arr)

    def bn(x, ch, out):
        n.append(helper.make_node("BatchNormalization", [x, c(f(ch) + 1), c(f(ch)), c(f(ch)), c(np.abs(f(ch)) + 0.5)],
                                  [out], epsilon=1e-5))
        return out

    # conv0 + BN + hardswish, Paddle's spelling: x * Clip(x + 3, 0, 6) / 6
    n.append(helper.make_node("Conv", ["x", c(f(4, 3, 3, 3))], ["c0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    y = bn("c0", 4, "b0")
    n.append(helper.make_node("Add", [y, c(np.float32(3))], ["h0a"]))
    n.append(helper.make_node("Clip", ["h0a", c(np.float32(0)), c(np.float32(6))], ["h0c"]))
    n.append(helper.make_node("Mul", [y, "h0c"], ["h0m"]))
    n.append(helper.make_node("Div", ["h0m", c(np.float32(6))], ["h0"]))
    # depthwise 3x3 stride (2,1) + BN + hardswish spelled (Clip(x+3,0,6) * (1/6)) * x
    n.append(helper.make_node("Conv", ["h0", c(f(4, 1, 3, 3)), c(f(4))], ["c1"], kernel_shape=[3, 3], strides=[2, 1],
                              pads=[1, 1, 1, 1], group=4))
    y = bn("c1", 4, "b1")
    n.append(helper.make_node("Add", [c(np.float32(3)), y], ["h1a"]))
    n.append(helper.make_node("Clip", ["h1a", c(np.float32(0)), c(np.float32(6))], ["h1c"]))
    n.append(helper.make_node("Mul", ["h1c", c(np.float32(1 / 6))], ["h1d"]))
    n.append(helper.make_node("Mul", ["h1d", y], ["h1"]))
    # pointwise 1x1 + hardswish spelled x * HardSigmoid(x)
    n.append(helper.make_node("Conv", ["h1", c(f(8, 4, 1, 1)), c(f(8))], ["c2"], kernel_shape=[1, 1]))
    n.append(helper.make_node("HardSigmoid", ["c2"], ["g2"], alpha=1 / 6, beta=0.5))
    n.append(helper.make_node("Mul", ["c2", "g2"], ["h2"]))
    if extra:
        extra(n, c)
    # SE: GAP -> conv (bias via Add of a reshaped constant) -> Relu -> conv -> HardSigmoid -> Mul
    n.append(helper.make_node("GlobalAveragePool", ["h2"], ["p"]))
    n.append(helper.make_node("Conv", ["p", c(f(2, 8, 1, 1))], ["s1"], kernel_shape=[1, 1]))
    n.append(helper.make_node("Reshape", [c(f(2)), c(np.array([1, 2, 1, 1], np.int64))], ["s1b"]))
    n.append(helper.make_node("Add", ["s1", "s1b"], ["s1a"]))
    n.append(helper.make_node("Relu", ["s1a"], ["s1r"]))
    n.append(helper.make_node("Conv", ["s1r", c(f(8, 2, 1, 1)), c(f(8))], ["s2"], kernel_shape=[1, 1]))
    n.append(helper.make_node("HardSigmoid", ["s2"], ["s2g"], alpha=0.16666670143604279, beta=0.5))
    n.append(helper.make_node("Mul", ["h2", "s2g"], ["se"]))
    n.append(helper.make_node("MaxPool", ["se"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]))
    n.append(helper.make_node("Squeeze", ["mp", c(np.array([2], np.int64))], ["sq"]))
    n.append(helper.make_node("Transpose", ["sq"], ["ntc"], perm=[0, 2, 1]))
    n.append(helper.make_node("Transpose", ["ntc"], ["tnc"], perm=[1, 0, 2]))
    # zero initial state [2, N, 3] from the runtime batch size
    n.append(helper.make_node("Shape", ["ntc"], ["shp"]))
    n.append(helper.make_node("Slice", ["shp", c(np.array([0], np.int64)), c(np.array([1], np.int64))], ["bs"]))
    n.append(helper.make_node("Concat", [c(np.array([2], np.int64)), "bs", c(np.array([3], np.int64))], ["st"], axis=0))
    n.append(helper.make_node("ConstantOfShape", ["st"], ["h_init"], value=numpy_helper.from_array(np.zeros(1, np.float32))))
    # LSTM 1 (hidden 3): W assembled by Unsqueeze + Concat + Slice + Concat on constants
    halves = [c(f(12, 8)) for _ in range(2)]
    for d in range(2):
        n.append(helper.make_node("Unsqueeze", [halves[d], c(np.array([0], np.int64))], [f"wu{d}"]))
    n.append(helper.make_node("Concat", ["wu0", "wu1"], ["wcat"], axis=0))
    parts = []
    for j, (a, b) in enumerate(((0, 3), (6, 12), (3, 6))):
        n.append(helper.make_node("Slice", ["wcat", c(np.array([a], np.int64)), c(np.array([b], np.int64)),
                                            c(np.array([1], np.int64))], [f"ws{j}"]))
        parts.append(f"ws{j}")
    n.append(helper.make_node("Concat", parts, ["W1"], axis=1))
    n.append(helper.make_node("LSTM", ["tnc", "W1", c(f(2, 12, 3)), c(f(2, 24)), "", "h_init", "h_init"],
                              ["y1", "yh1", "yc1"], direction="bidirectional", hidden_size=3))
    n.append(helper.make_node("Transpose", ["y1"], ["y1t"], perm=[0, 2, 1, 3]))
    n.append(helper.make_node("Reshape", ["y1t", c(np.array([0, 0, -1], np.int64))], ["seq1"]))
    # LSTM 2 (hidden 4), no bias, no initial state; batch-first reshape after it
    n.append(helper.make_node("LSTM", ["seq1", c(f(2, 16, 6)), c(f(2, 16, 4))], ["y2"], direction="bidirectional",
                              hidden_size=4))
    n.append(helper.make_node("Transpose", ["y2"], ["y2t"], perm=[2, 0, 1, 3]))
    n.append(helper.make_node("Reshape", ["y2t", c(np.array([0, 0, -1], np.int64))], ["seq2"]))
    n.append(helper.make_node("MatMul", ["seq2", c(f(8, 5))], ["m1"]))
    n.append(helper.make_node("Add", [c(f(5)), "m1"], ["l1"]))
    n.append(helper.make_node("MatMul", ["l1", c(f(5, 7))], ["m2"]))
    n.append(helper.make_node("Add", ["m2", c(f(7))], ["l2"]))
    n.append(helper.make_node("Softmax", ["l2"], ["probs"], axis=2))
    graph = helper.make_graph(
        n, "mini_ppocr",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", "T", 7])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _convert(tmp_path, model, height, **kw):
    from tinycrnn.convert.onnx_import import onnx_to_layers

    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    return path, onnx_to_layers(path, height=height, **kw)


def _model_from(tensors, arch, k, backend):
    from tinycrnn.engine import Model
    from tinycrnn.modelfile import ModelFile

    manifest = {"arch": arch, "charset": {"blank_index": 0, "chars": [chr(97 + i) for i in range(k - 1)]},
                "preprocess": {}, "decode": {"output": "probs"}}
    return Model(ModelFile("mini.tcrnn", manifest, tensors), backend=backend)


@needs_onnx
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_import_miniature_ppocr_matches_onnxruntime(tmp_path, backend):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (bench extra) is not installed")
    path, (tensors, arch, info) = _convert(tmp_path, _ppocr_like_graph(), height=8)
    ops = [layer["op"] for layer in arch["layers"]]
    assert ops == ["conv2d"] * 3 + ["se", "maxpool2d", "mean_height", "bilstm", "bilstm", "linear", "softmax"]
    assert [layer.get("act") for layer in arch["layers"][:3]] == ["hardswish"] * 3
    assert arch["layers"][1]["groups"] == 4 and arch["layers"][1]["s"] == [2, 1]
    assert info["softmax"] and info["classes"] == 7
    model = _model_from(tensors, arch, 7, backend)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 37)).astype(np.float32)
    want = sess.run(None, {"x": x})[0]
    got = model.forward(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=SYNTH_ATOL)


@needs_onnx
def test_import_lists_every_unsupported_op_with_its_node_name(tmp_path):
    def extra(n, c):
        n.append(helper.make_node("Sigmoid", ["h2"], ["sg"], name="my_sigmoid"))
        n.append(helper.make_node("Erf", ["sg"], ["er"], name="my_erf"))
        n.append(helper.make_node("Add", ["h2", "er"], ["h2x"]))

    model = _ppocr_like_graph(extra=extra)
    # route the extra branch into the data path: SE now reads h2x
    for node in model.graph.node:
        if node.op_type in ("GlobalAveragePool",) or (node.op_type == "Mul" and "s2g" in node.input):
            node.input[list(node.input).index("h2")] = "h2x"
    with pytest.raises(WeightFormatError, match=r"Sigmoid \(my_sigmoid\).*Erf \(my_erf\)"):
        _convert(tmp_path, model, height=8)


@needs_onnx
def test_import_rejects_an_unsupported_pattern_naming_the_node(tmp_path):
    model = _ppocr_like_graph()
    for node in model.graph.node:
        if node.op_type == "LSTM" and node.input[0] == "tnc":
            for a in node.attribute:
                if a.name == "direction":
                    a.s = b"forward"
    with pytest.raises(WeightFormatError, match="LSTM.*bidirectional"):
        _convert(tmp_path, model, height=8)


@needs_onnx
@pytest.mark.parametrize("payload", [b"", b"\x08\x07garbage\xff\xff\xff\xff", b"not an onnx file at all" * 50])
def test_import_corrupt_file_raises_weight_format_error(tmp_path, payload):
    from tinycrnn.convert.onnx_import import onnx_to_layers

    p = tmp_path / "bad.onnx"
    p.write_bytes(payload)
    with pytest.raises(WeightFormatError):
        onnx_to_layers(str(p), height=32)


@needs_onnx
def test_import_truncated_real_style_file_raises_weight_format_error(tmp_path):
    from tinycrnn.convert.onnx_import import onnx_to_layers

    path = str(tmp_path / "m.onnx")
    onnx.save(_ppocr_like_graph(), path)
    raw = open(path, "rb").read()
    p = tmp_path / "cut.onnx"
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(WeightFormatError):
        onnx_to_layers(str(p), height=8)


def test_import_without_onnx_asks_for_the_extra(monkeypatch, tmp_path):
    from tinycrnn.convert.onnx_import import onnx_to_layers

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match=r"tinycrnn\[convert\]"):
        onnx_to_layers(str(tmp_path / "x.onnx"))


@needs_onnx
def test_convert_cli_onnx_with_charset_writes_a_loadable_model(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from convert_weights import main
    finally:
        sys.path.pop(0)
    import tinycrnn

    src = str(tmp_path / "mini.onnx")
    onnx.save(_ppocr_like_graph(), src)
    keys = tmp_path / "keys.txt"
    keys.write_bytes("a\r\nb\r\n\u3000\r\nd\r\ne".encode())  # 5 entries + blank + space = 7 classes
    dst = str(tmp_path / "mini.tcrnn")
    assert main([src, dst, "--charset", str(keys), "--height", "8", "--name", "mini", "--right-margin", "0"]) == 0
    m = tinycrnn.load_model(dst, backend="numpy")
    assert m.charset == ["", "a", "b", "\u3000", "d", "e", " "] and m.output_kind == "probs"
    assert m.manifest["preprocess"]["right_margin"] == 0 and m.manifest["name"] == "mini"
    bad = tmp_path / "short.txt"
    bad.write_bytes(b"a\nb")
    assert main([src, str(tmp_path / "x.tcrnn"), "--charset", str(bad), "--height", "8"]) == 1


# -- the real files -----------------------------------------------------------------------------


@needs_onnx
@_needs_file(PPOCR_ONNX)
def test_import_real_ppocrv2_equals_shipped_weights(tmp_path):
    from tinycrnn.convert.checkpoint import convert_checkpoint

    dst = str(tmp_path / "pp.tcrnn")
    manifest = convert_checkpoint(PPOCR_ONNX, dst, name="ppocrv2_zh", charset=PPOCR_KEYS)
    ops = [layer["op"] for layer in manifest["arch"]["layers"]]
    assert ops.count("conv2d") == 27 and ops.count("se") == 2 and ops.count("bilstm") == 2 and ops[-1] == "softmax"
    got = read_model(dst)
    shipped = read_model(resolve_model_path("ppocrv2_zh"))
    assert set(got.tensors) == set(shipped.tensors)
    for name, arr in shipped.tensors.items():
        np.testing.assert_array_equal(got.tensors[name], arr, err_msg=name)
    for key in ("arch", "charset", "preprocess", "decode"):
        assert got.manifest[key] == shipped.manifest[key], key


@needs_onnx
@_needs_file(EG2_ONNX)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_import_english_g2_onnx_equals_pth_conversion(tmp_path, backend, ref_cases):
    import tinycrnn
    from tinycrnn.convert.checkpoint import convert_checkpoint
    from tolerances import LOGITS_ATOL

    dst = str(tmp_path / "eg2.tcrnn")
    manifest = convert_checkpoint(EG2_ONNX, dst, name="english_g2")
    assert manifest["charset"] == read_model(resolve_model_path("english_g2")).manifest["charset"]
    from_onnx = tinycrnn.load_model(dst, backend=backend)
    from_pth = tinycrnn.load_model("english_g2", backend=backend)
    for case in ref_cases["cases"][:8]:
        x = np.load(os.path.join(DATA, "english_g2", case["input"]))
        a, b = from_onnx.forward(x), from_pth.forward(x)
        np.testing.assert_allclose(a, b, rtol=0, atol=LOGITS_ATOL, err_msg=case["name"])
        np.testing.assert_array_equal(a.argmax(-1), b.argmax(-1))
