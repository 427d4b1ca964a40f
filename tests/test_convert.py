"""The converter: the shipped model is exactly what tools/convert_weights.py makes of the real checkpoint."""
import os

import numpy as np
import pytest

from conftest import ROOT, SHARED, run_python
from tinycrnn.convert.easyocr import fold_batchnorm
from tinycrnn.engine import resolve_model_path
from tinycrnn.modelfile import read_model

PTH = os.path.join(SHARED, "models", "english_g2.pth")


@pytest.mark.skipif(not os.path.exists(PTH), reason="shared/models/english_g2.pth not present (fresh clone)")
def test_convert_real_checkpoint_reproduces_shipped_model(tmp_path):
    dst = str(tmp_path / "g2.tcrnn")
    p = run_python(os.path.join(ROOT, "tools", "convert_weights.py"), PTH, dst)
    assert p.returncode == 0, p.stderr
    new, shipped = read_model(dst), read_model(resolve_model_path("english_g2-fp32"))
    assert new.manifest["arch"] == shipped.manifest["arch"]
    assert set(new.tensors) == set(shipped.tensors)
    for k in new.tensors:
        np.testing.assert_array_equal(new.tensors[k], shipped.tensors[k], err_msg=k)


def test_convert_bad_source_is_clear_error(tmp_path):
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"not a zip")
    p = run_python(os.path.join(ROOT, "tools", "convert_weights.py"), str(bad), str(tmp_path / "o"))
    assert p.returncode == 1 and "Traceback" not in p.stderr and "x.pth" in p.stderr


def test_convert_fold_batchnorm_matches_unfolded():
    rng = np.random.default_rng(1)
    from tinycrnn.kernels.ref import conv2d_ref

    x = rng.standard_normal((1, 3, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    gamma, beta, mean = (rng.standard_normal(4).astype(np.float32) for _ in range(3))
    var = rng.random(4).astype(np.float32) + 0.1
    y = conv2d_ref(x, w, None, pad=(1, 1))
    want = gamma[None, :, None, None] * (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) \
        + beta[None, :, None, None]
    wf, bf = fold_batchnorm(w, None, gamma, beta, mean, var)
    np.testing.assert_allclose(conv2d_ref(x, wf, bf, pad=(1, 1)), want, atol=1e-4)
