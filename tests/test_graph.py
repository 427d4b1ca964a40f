"""Graph models (format_version 2): layers wired by named values. The shipped chain files (format_version 1)
load unchanged; a hand-built graph runs as its NumPy definition says on both backends; wiring
mistakes fail at load naming the layer and value."""
import glob
import json
import os

import numpy as np
import pytest

import tinycrnn
from conftest import ROOT
from tinycrnn.errors import WeightFormatError
from tinycrnn.modelfile import needed_version, read_model, write_model
from tolerances import KERNEL_ATOL, KERNEL_RTOL

CHAIN_FILES = sorted(f for f in glob.glob(os.path.join(ROOT, "weights", "*.tcrnn"))
                     if os.path.basename(f).startswith(("english_g2", "ppocrv2_zh")))


@pytest.mark.parametrize("path", CHAIN_FILES, ids=os.path.basename)
def test_shipped_chain_files_are_version_1_and_load_unchanged(path):
    mf = read_model(path)
    assert mf.manifest["format_version"] == 1
    assert not any("inputs" in l or "output" in l for l in mf.manifest["arch"]["layers"])
    m = tinycrnn.load_model(path, backend="numpy")
    assert m.task == "recognize" and len(m.graph.nodes) == len(mf.manifest["arch"]["layers"])
    assert needed_version(mf.manifest) == 1  # re-converting a chain still writes version 1


def test_shipped_graph_files_are_version_2():
    for name in ("ppocrv4_det", "ppocr_cls"):
        man = read_model(os.path.join(ROOT, "weights", name + ".tcrnn")).manifest
        assert man["format_version"] == 2 and man["task"] in ("detect", "classify")
        assert all("inputs" in l and "output" in l for l in man["arch"]["layers"])
        assert man["producer"]["license"] == "Apache-2.0" and "PaddleOCR" in man["producer"]["attribution"]


def _graph_manifest(layers, outputs=None):
    arch = {"name": "g", "input": {"name": "x", "channels": 2, "height": None, "multiple": 4}, "layers": layers}
    if outputs:
        arch["outputs"] = outputs
    return {"name": "g", "task": "detect", "arch": arch, "preprocess": {}}


def _tiny_graph(rng):
    layers = [
        {"op": "conv2d", "name": "a", "inputs": ["x"], "output": "a", "out": 3, "k": [3, 3], "s": [2, 2], "p": [1, 1],
         "act": "relu"},
        {"op": "affine", "name": "f", "inputs": ["a"], "output": "f"},
        {"op": "conv2d", "name": "b", "inputs": ["f"], "output": "b", "out": 3, "k": [1, 1], "s": [2, 2]},
        {"op": "add", "name": "s", "inputs": ["a", "b"], "output": "s", "up": [[1, 1], [2, 2]], "act": "hardswish"},
        {"op": "concat", "name": "c", "inputs": ["b", "s"], "output": "c", "up": [[2, 2], [1, 1]]},
        {"op": "conv_transpose2d", "name": "t", "inputs": ["c"], "output": "prob", "out": 1, "k": [2, 2], "s": [2, 2],
         "act": "sigmoid"},
    ]
    t = {"a.weight": rng.standard_normal((3, 2, 3, 3)), "a.bias": rng.standard_normal(3),
         "f.scale": rng.standard_normal(3), "f.shift": rng.standard_normal(3),
         "b.weight": rng.standard_normal((3, 3, 1, 1)), "t.weight": rng.standard_normal((6, 1, 2, 2)),
         "t.bias": rng.standard_normal(1)}
    return layers, {k: v.astype(np.float32) for k, v in t.items()}


def _by_hand(x, t):
    from tinycrnn.kernels import ref, ref_graph as g

    a = ref.conv2d_ref(x, t["a.weight"], t["a.bias"], (2, 2), (1, 1), 1, "relu")
    f = g.affine_ref(a, t["f.scale"], t["f.shift"])
    b = ref.conv2d_ref(f, t["b.weight"], None, (2, 2), (0, 0))
    s = g.add_ref([a, b], [(1, 1), (2, 2)], "hardswish")
    c = g.concat_ref([b, s], [(2, 2), (1, 1)])
    return g.conv_transpose2d_ref(c, t["t.weight"], t["t.bias"], (2, 2), (0, 0), "sigmoid")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_hand_built_graph_runs_as_defined(tmp_path, backend):
    rng = np.random.default_rng(0)
    layers, tensors = _tiny_graph(rng)
    path = str(tmp_path / "g.tcrnn")
    write_model(path, tensors, _graph_manifest(layers))
    m = tinycrnn.load_model(path, backend=backend)
    assert m.manifest["format_version"] == 2 and m.graph.outputs == ["prob"]
    # "a" is read by f and by s: it must survive f and be dropped after s
    assert "a" in m.graph.free_after[3] and "a" not in m.graph.free_after[1]
    x = rng.standard_normal((2, 2, 8, 12)).astype(np.float32)
    np.testing.assert_allclose(m.forward(x), _by_hand(x, tensors), rtol=KERNEL_RTOL, atol=KERNEL_ATOL)


@pytest.mark.parametrize("edit,match", [
    (lambda L: L[1].update(inputs=["b"]), "reads value 'b' before"),
    (lambda L: L[2].update(output="a"), "writes value 'a' twice"),
    (lambda L: L.insert(5, {"op": "act", "name": "d", "inputs": ["c"], "output": "dead", "act": "relu"}), "dead"),
    (lambda L: L[3].update(up=[[1, 1], [1, 1]]), "do not have one size"),
    (lambda L: L[2].update(inputs=["f", "a"]), "takes one input"),
])
def test_wiring_mistakes_fail_at_load(tmp_path, edit, match):
    layers, tensors = _tiny_graph(np.random.default_rng(0))
    edit(layers)
    path = str(tmp_path / "bad.tcrnn")
    write_model(path, tensors, _graph_manifest(layers))
    with pytest.raises(WeightFormatError, match=match):
        tinycrnn.load_model(path, backend="numpy")


def test_version_1_file_naming_values_is_refused(tmp_path):
    layers, tensors = _tiny_graph(np.random.default_rng(0))
    path = str(tmp_path / "v1.tcrnn")
    write_model(path, tensors, _graph_manifest(layers))
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    man = json.loads(header["__metadata__"]["tinycrnn"])
    man["format_version"], man["task"] = 1, "recognize"
    header["__metadata__"]["tinycrnn"] = json.dumps(man)
    new = json.dumps(header).encode()
    new += b" " * ((-(8 + len(new))) % 64)
    with open(path, "wb") as f:
        f.write(len(new).to_bytes(8, "little") + new + raw[8 + n :])
    with pytest.raises(WeightFormatError):
        read_model(path)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_affine_after_a_conv_is_folded_into_it(tmp_path, backend):
    # graph.fuse_affines: "b" is read only by the affine "g", so g runs in b's epilogue; "a" has two readers
    rng = np.random.default_rng(2)
    layers, tensors = _tiny_graph(rng)
    layers.insert(3, {"op": "affine", "name": "g", "inputs": ["b"], "output": "g"})
    layers[4]["inputs"] = ["a", "g"]
    layers[5]["inputs"] = ["g", "s"]
    tensors.update({"g.scale": rng.standard_normal(3).astype(np.float32),
                    "g.shift": rng.standard_normal(3).astype(np.float32)})
    path = str(tmp_path / "g.tcrnn")
    write_model(path, tensors, _graph_manifest(layers))
    m = tinycrnn.load_model(path, backend=backend)
    names = [op.name for op in m.graph.ops]
    assert "g" not in names and "f" in names and [out for op, _, out in m.graph.nodes if op.name == "b"] == ["g"]
    from tinycrnn.kernels import ref, ref_graph as g

    x = rng.standard_normal((2, 2, 8, 12)).astype(np.float32)
    a = ref.conv2d_ref(x, tensors["a.weight"], tensors["a.bias"], (2, 2), (1, 1), 1, "relu")
    f = g.affine_ref(a, tensors["f.scale"], tensors["f.shift"])
    gv = g.affine_ref(ref.conv2d_ref(f, tensors["b.weight"], None, (2, 2), (0, 0)), tensors["g.scale"], tensors["g.shift"])
    s = g.add_ref([a, gv], [(1, 1), (2, 2)], "hardswish")
    want = g.conv_transpose2d_ref(g.concat_ref([gv, s], [(2, 2), (1, 1)]), tensors["t.weight"], tensors["t.bias"],
                                  (2, 2), (0, 0), "sigmoid")
    np.testing.assert_allclose(m.forward(x), want, rtol=KERNEL_RTOL, atol=KERNEL_ATOL)
