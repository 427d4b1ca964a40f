"""The graph importer (tinycrnn/convert/onnx_graph.py + onnx_fuse.py) on a synthetic ONNX graph that
has every pattern the DB detector has: BatchNorm, HardSwish written out, a scale/shift after an
activation read by a 1x1 conv and a padded depthwise conv (kept: the padding would see the shift), a residual SE,
nearest Resize into Add and Concat, ConvTranspose + bias + Sigmoid. Checked against a NumPy
evaluation of the same graph and, when installed, onnxruntime."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the 'onnx' package (tinycrnn[convert]) is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tinycrnn.modelfile import write_model  # noqa: E402
from tolerances import KERNEL_ATOL  # noqa: E402

RNG = np.random.default_rng(7)


def _c(name, arr, inits):
    inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
    return name


def _synthetic(path):
    r = lambda *s: RNG.standard_normal(s).astype(np.float32) * 0.5  # noqa: E731
    I, N = [], []
    N.append(helper.make_node("Conv", ["x", _c("w1", r(8, 4, 3, 3), I), _c("b1", r(8), I)], ["c1"],
                              kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    N.append(helper.make_node("BatchNormalization", ["c1", _c("g", 1 + r(8) ** 2, I), _c("be", r(8), I),
                                                     _c("mu", r(8), I), _c("var", 1 + r(8) ** 2, I)], ["bn"]))
    N.append(helper.make_node("Add", ["bn", _c("three", 3.0, I)], ["p3"]))
    N.append(helper.make_node("Clip", ["p3", _c("zero", 0.0, I), _c("six", 6.0, I)], ["cl"]))
    N.append(helper.make_node("Mul", ["bn", "cl"], ["m"]))
    N.append(helper.make_node("Div", ["m", "six"], ["hs"]))
    N.append(helper.make_node("Mul", [_c("a1", [0.7], I), "hs"], ["l1"]))
    N.append(helper.make_node("Add", ["l1", _c("s1", [0.1], I)], ["lab"]))
    N.append(helper.make_node("Conv", ["lab", _c("w2", r(8, 8, 1, 1), I), _c("b2", r(8), I)], ["pw"], kernel_shape=[1, 1]))
    N.append(helper.make_node("Conv", ["lab", _c("w3", r(8, 1, 3, 3), I), _c("b3", r(8), I)], ["dw"],
                              kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], group=8))
    N.append(helper.make_node("GlobalAveragePool", ["dw"], ["gap"]))
    N.append(helper.make_node("Conv", ["gap", _c("ws1", r(2, 8, 1, 1), I), _c("bs1", r(2), I)], ["s1c"], kernel_shape=[1, 1]))
    N.append(helper.make_node("Relu", ["s1c"], ["s1r"]))
    N.append(helper.make_node("Conv", ["s1r", _c("ws2", r(8, 2, 1, 1), I), _c("bs2", r(8), I)], ["s2c"], kernel_shape=[1, 1]))
    N.append(helper.make_node("HardSigmoid", ["s2c"], ["gate"], alpha=0.2, beta=0.5))
    N.append(helper.make_node("Mul", ["dw", "gate"], ["sem"]))
    N.append(helper.make_node("Add", ["dw", "sem"], ["rse"]))
    N.append(helper.make_node("Resize", ["rse", "", _c("sc", [1, 1, 2, 2], I)], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    N.append(helper.make_node("Add", ["pw", "up"], ["fpn"]))
    N.append(helper.make_node("Concat", ["fpn", "up"], ["cat"], axis=1))
    N.append(helper.make_node("ConvTranspose", ["cat", _c("wt", r(16, 1, 2, 2), I)], ["ct"], kernel_shape=[2, 2],
                              strides=[2, 2]))
    N.append(helper.make_node("Add", ["ct", _c("bt", r(1, 1, 1, 1), I)], ["ctb"]))
    N.append(helper.make_node("Sigmoid", ["ctb"], ["prob"]))
    graph = helper.make_graph(N, "synthetic_db", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4, None, None])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, None)], I)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="test")
    onnx.save(model, path)
    return {t.name: numpy_helper.to_array(t) for t in I}


def _numpy_eval(x, c):
    from tinycrnn.kernels import ref

    c1 = ref.conv2d_ref(x, c["w1"], c["b1"], (2, 2), (1, 1))
    s = c["g"] / np.sqrt(c["var"] + 1e-5)
    bn = (c1 - c["mu"][None, :, None, None]) * s[None, :, None, None] + c["be"][None, :, None, None]
    hs = bn * np.clip(bn + 3, 0, 6) / 6
    lab = 0.7 * hs + 0.1
    pw = ref.conv2d_ref(lab.astype(np.float32), c["w2"], c["b2"])
    dw = ref.conv2d_ref(lab.astype(np.float32), c["w3"], c["b3"], (2, 2), (1, 1), groups=8)
    rse = dw + ref.se_ref(dw, c["ws1"][:, :, 0, 0], c["bs1"], c["ws2"][:, :, 0, 0], c["bs2"], 0.2, 0.5)
    up = np.repeat(np.repeat(rse, 2, 2), 2, 3)
    cat = np.concatenate([pw + up, up], 1)
    ct = np.zeros((x.shape[0], 1, cat.shape[2] * 2, cat.shape[3] * 2), np.float32)
    for i in range(2):
        for j in range(2):
            ct[:, :, i::2, j::2] = np.einsum("nchw,co->nohw", cat, c["wt"][:, :, i, j])
    return 1 / (1 + np.exp(-(ct + c["bt"].reshape(1, 1, 1, 1))))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_synthetic_db_graph_imports_fused_and_matches(tmp_path, backend):
    import tinycrnn
    from tinycrnn.convert.onnx_import import onnx_to_graph

    consts = _synthetic(str(tmp_path / "s.onnx"))
    tensors, arch, _ = onnx_to_graph(str(tmp_path / "s.onnx"))
    ops = [l["op"] for l in arch["layers"]]
    # BN + hardswish fused into conv.0; the scale/shift stays (a padded depthwise conv reads it too);
    # SE + residual add one layer; the Resize folded into the add and the concat; bias + sigmoid in the upconv
    assert ops == ["conv2d", "affine", "conv2d", "conv2d", "se", "add", "concat", "conv_transpose2d"], ops
    assert arch["layers"][0]["act"] == "hardswish" and arch["layers"][4]["residual"] is True
    assert arch["layers"][5]["up"] == [[1, 1], [2, 2]] and arch["layers"][6]["up"] == [[1, 1], [2, 2]]
    assert arch["layers"][-1]["act"] == "sigmoid"
    arch["input"].update(height=None, multiple=4)
    path = str(tmp_path / "s.tcrnn")
    write_model(path, tensors, {"name": "s", "task": "detect", "arch": arch, "preprocess": {}})
    x = RNG.standard_normal((2, 4, 8, 12)).astype(np.float32)
    got = tinycrnn.load_model(path, backend=backend).forward(x)
    np.testing.assert_allclose(got, _numpy_eval(x, consts), rtol=0, atol=KERNEL_ATOL)
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got, sess.run(None, {"x": x})[0], rtol=0, atol=KERNEL_ATOL)
