"""Quantisation: the rounding rule, the round-trip bound, the int8 model file and its accuracy on
the reference cases (kernels vs their integer twins are in test_kernels.py)."""
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import REF, ROOT, SHARED, run_python
from tinycrnn.quant import QMAX, dequantize, quantize, quantize_rows, round_half_even
from tolerances import INT8_LOGITS_NMSE, QUANT_ROUNDTRIP_REL_RMSE, TWIN_BATCH_ATOL

INT8_MODEL = "english_g2-int8"
FP32_MODEL = "english_g2-fp32"
PTH = os.path.join(SHARED, "models", "english_g2.pth")

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


def greedy_texts(model, x, logits=False):
    """Greedy texts of a batch: ``x`` is the network input, or its output when ``logits``."""
    from tinycrnn.decode import ctc_greedy, softmax

    out = x if logits else model.forward(x)
    return [ctc_greedy(softmax(line), model.charset).text for line in out]


def test_round_half_even_ties_go_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997], np.float32)
    np.testing.assert_array_equal(round_half_even(x), [-2.0, -2.0, -0.0, 0.0, 2.0, 2.0, 0.0])


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=4, max_side=7), elements=finite))
def test_quantize_rows_roundtrip_error_at_most_half_a_step(w):
    w_q, w_scale = quantize_rows(w)
    assert w_q.dtype == np.int8 and w_scale.dtype == np.float32 and w_scale.shape == (w.shape[0],)
    assert np.abs(w_q.astype(np.int32)).max(initial=0) <= QMAX
    scale = w_scale.reshape((-1,) + (1,) * (w.ndim - 1))
    err = np.abs(dequantize(w_q, scale) - w)
    # half a step, plus float32 rounding of the scale product
    assert (err <= scale / 2 * (1 + 1e-5) + 1e-30).all()


def test_quantize_rows_all_zero_rows_stay_finite_and_zero():
    w = np.zeros((3, 5), np.float32)
    w[1] = [1, -2, 3, 0, 0]
    w_q, w_scale = quantize_rows(w)
    assert w_scale[0] == 0 and w_scale[2] == 0 and (w_q[0] == 0).all()
    assert np.isfinite(dequantize(w_q, w_scale[:, None])).all()


def test_quantize_rows_rmse_within_budget():
    w = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    w_q, w_scale = quantize_rows(w)
    rel = np.linalg.norm(dequantize(w_q, w_scale[:, None]) - w) / np.linalg.norm(w)
    assert rel <= QUANT_ROUNDTRIP_REL_RMSE


def test_quantize_activation_clips_to_unsigned_range():
    q = quantize(np.array([-1.0, 0.0, 0.26, 1e9], np.float32), 0.5, 0, 255, np.uint8)
    np.testing.assert_array_equal(q, [0, 0, 1, 255])
    assert quantize(np.ones(3, np.float32), 0.0).tolist() == [0, 0, 0]  # zero scale guarded


def test_int8_model_file_is_small_and_declares_its_quantisation():
    from tinycrnn.engine import resolve_model_path
    from tinycrnn.modelfile import QUANT_VERSION, read_model

    path = resolve_model_path(INT8_MODEL)
    assert os.path.getsize(path) <= 4.5e6
    mf = read_model(path)
    q = mf.manifest["quant"]
    assert q["quant_version"] == QUANT_VERSION and q["rounding"] == "half_even" and q["qmax"] == QMAX
    assert mf.tensors["cnn.14.w_q"].dtype == np.int8 and mf.tensors["cnn.14.w_scale"].shape == (256,)
    assert mf.tensors["rnn.0.fwd.w_hh_q"].dtype == np.int8 and mf.tensors["rnn.0.fwd.w_hh_scale"].shape == (1024,)
    assert all(t.dtype == np.float32 for k, t in mf.tensors.items() if t.ndim < 2)  # 1-D stays float32


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_int8_model_logits_within_nmse_and_same_texts_as_fp32(backend, ref_cases):
    import tinycrnn
    from tinycrnn.decode import ctc_greedy, softmax

    m = tinycrnn.load_model(INT8_MODEL, backend=backend)
    for case in ref_cases["cases"]:
        logits = m.forward(np.load(os.path.join(REF, case["input"])))[0]
        ref = np.load(os.path.join(REF, case["logits"]))
        nmse = float(((logits - ref) ** 2).sum() / (ref**2).sum())
        assert nmse <= INT8_LOGITS_NMSE, (case["name"], nmse)
        assert ctc_greedy(softmax(logits), m.charset).text == case["text"], case["name"]


def test_int8_model_newer_quant_version_is_refused(tmp_path):
    import json

    from tinycrnn.engine import resolve_model_path
    from tinycrnn.errors import UnsupportedVersionError
    from tinycrnn.modelfile import QUANT_VERSION, read_model, write_model

    mf = read_model(resolve_model_path(INT8_MODEL))
    manifest = json.loads(json.dumps(mf.manifest))
    manifest["quant"]["quant_version"] = QUANT_VERSION + 1
    write_model(str(tmp_path / "new.tcrnn"), dict(mf.tensors), manifest)
    with pytest.raises(UnsupportedVersionError, match="quant_version"):
        read_model(str(tmp_path / "new.tcrnn"))


@pytest.mark.skipif(not os.path.exists(PTH), reason="shared/models/english_g2.pth not present (fresh clone)")
def test_convert_int8_reproduces_shipped_int8_model_and_prints_worst_error(tmp_path):
    import tinycrnn
    from tinycrnn.engine import resolve_model_path
    from tinycrnn.modelfile import read_model

    dst = str(tmp_path / "g2_int8.tcrnn")
    shipped = read_model(resolve_model_path(INT8_MODEL))
    q = shipped.manifest["quant"]  # the options the shipped file was converted with
    options = ["--weight-rounding", q.get("weight_rounding", "nearest"), "--fp32-layers", ",".join(q.get("fp32_layers", []))]
    p = run_python(os.path.join(ROOT, "tools", "convert_weights.py"), PTH, dst, "--int8", "--name", "english_g2_int8",
                   *options, timeout=900)
    assert p.returncode == 0, p.stderr
    assert "worst per-tensor quantisation error" in p.stdout
    new = read_model(dst)
    assert new.manifest["arch"] == shipped.manifest["arch"] and set(new.tensors) == set(shipped.tensors)
    # GPTQ rounding solves float least-squares problems through BLAS, whose summation order differs between
    # CPU families (OpenBLAS picks its kernels per CPU), and its error feedback carries one different rounding
    # into the next weights: byte-identical on the machine that made the shipped file, not elsewhere (on a
    # Zen 3 core 11% of cnn.3's weights differ). So: same structure and scales, and the same quality.
    for k in new.tensors:
        assert new.tensors[k].dtype == shipped.tensors[k].dtype and new.tensors[k].shape == shipped.tensors[k].shape, k
        if new.tensors[k].dtype != np.int8:
            np.testing.assert_allclose(new.tensors[k], shipped.tensors[k], rtol=1e-4, atol=1e-6, err_msg=k)
    x = np.load(os.path.join(REF, "batch3.input.npy"))
    ref = np.load(os.path.join(REF, "batch3.logits.npy"))
    for path in (dst, resolve_model_path(INT8_MODEL)):
        m = tinycrnn.load_model(path, backend="numpy")
        out = m.forward(x)
        assert greedy_texts(m, out, logits=True) == greedy_texts(m, ref, logits=True), path
        assert max(np.sum((o - r) ** 2) / np.sum(r**2) for o, r in zip(out, ref)) <= INT8_LOGITS_NMSE, path


def test_int8_model_unused_or_missing_tensor_is_a_load_error(tmp_path):
    from tinycrnn.engine import load_model, resolve_model_path
    from tinycrnn.errors import WeightFormatError
    from tinycrnn.modelfile import read_model, write_model

    mf = read_model(resolve_model_path(INT8_MODEL))
    tensors = dict(mf.tensors)
    del tensors["cnn.8.w_scale"]
    write_model(str(tmp_path / "bad.tcrnn"), tensors, mf.manifest)
    with pytest.raises(WeightFormatError, match="cnn.8.w_scale"):
        load_model(str(tmp_path / "bad.tcrnn"), backend="numpy")


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_int8_line_result_does_not_depend_on_its_batch(backend):
    # every activation scale is per line, so a batch gives each line exactly its single-line result
    import tinycrnn

    m = tinycrnn.load_model(INT8_MODEL, backend=backend)
    x = np.load(os.path.join(REF, "batch3.input.npy"))
    together = m.forward(x)
    for i in range(x.shape[0]):
        alone = m.forward(x[i : i + 1])[0]
        if backend == "numba":  # the product's kernels compute each line on its own: exact
            np.testing.assert_array_equal(alone, together[i])
        else:
            # the twins' FP32 layers are NumPy matmuls over the whole batch, and BLAS may sum a 1-row and a
            # 3-row product in another order; the next layer's per-line int8 rounding can then flip a step
            assert greedy_texts(m, alone[None], logits=True) == greedy_texts(m, together[i : i + 1], logits=True)
            np.testing.assert_allclose(alone, together[i], atol=TWIN_BATCH_ATOL)


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=9), elements=finite))
def test_mse_scale_rows_never_worse_than_max_scale(w):
    from tinycrnn.convert.quantize import mse_scale_rows

    s_mse = mse_scale_rows(w)
    _, s_max = quantize_rows(w)
    assert s_mse.dtype == np.float32 and (s_mse <= s_max).all()
    flat = w.reshape(w.shape[0], -1)

    def row_err(s):
        return np.array([((dequantize(quantize(r, x), x) - r).astype(np.float64) ** 2).sum() for r, x in zip(flat, s)])

    assert (row_err(s_mse) <= row_err(s_max) * (1 + 1e-6) + 1e-30).all()


def test_gptq_rows_lowers_output_error_on_correlated_inputs():
    from tinycrnn.convert.quantize import gptq_rows, mse_scale_rows

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2000, 48)) @ rng.standard_normal((48, 48))).astype(np.float32)  # correlated inputs
    w = rng.standard_normal((16, 48)).astype(np.float32)
    s = mse_scale_rows(w)
    q_near = np.stack([quantize(r, x_) for r, x_ in zip(w, s)])
    q_gptq = gptq_rows(w, s, x.T.astype(np.float64) @ x)
    assert q_gptq.dtype == np.int8 and np.abs(q_gptq.astype(np.int32)).max() <= QMAX

    def out_err(q):
        return float(np.linalg.norm(x @ (dequantize(q, s[:, None]) - w).T))

    assert out_err(q_gptq) < 0.8 * out_err(q_near)


def test_quantize_model_unknown_fp32_layer_and_rounding_are_errors():
    from tinycrnn.convert.quantize import quantize_model
    from tinycrnn.engine import resolve_model_path
    from tinycrnn.errors import TinyCRNNError
    from tinycrnn.modelfile import read_model

    mf = read_model(resolve_model_path(FP32_MODEL))
    with pytest.raises(TinyCRNNError, match="no layer named"):
        quantize_model(dict(mf.tensors), mf.manifest, [], keep_fp32=["cnn.99"])
    with pytest.raises(TinyCRNNError, match="weight_rounding"):
        quantize_model(dict(mf.tensors), mf.manifest, [], weight_rounding="stochastic")
