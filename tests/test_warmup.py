"""``tinycrnn warmup``: after it, the page pipeline and the line models compile nothing more, whatever
widths, batch sizes and decoders real requests bring (a fresh Numba cache, real processes)."""
import json
import os

from conftest import SAMPLES, run_python
from tinycrnn.page.defaults import CASE_MODELS, DEFAULT_MODELS, fast_models

NOTICE = "tinycrnn: compiling kernels"
COLD_HINT = "not compiled for this CPU yet"

AFTER_WARMUP = """
import json, os, sys
import cv2, tinycrnn
from tinycrnn.page.defaults import CASE_MODELS, fast_models
CASE_MODEL = fast_models(CASE_MODELS)[0]
from tinycrnn.warmup import CompileLog
samples = sys.argv[1]
log = CompileLog().__enter__()
for page in ("receipt.png", "phototest.png"):  # receipt, and prose (the case model)
    tinycrnn.OCR().read(os.path.join(samples, page))
rec = tinycrnn.Recognizer(CASE_MODEL)
lines = [cv2.imread(os.path.join(samples, p)) for p in ("hello_world.png", "who_cook.png", "invoice_line.png")]
lines += [lines[0][:, :40], cv2.resize(lines[1], None, fx=3, fy=1)]  # very narrow, very wide
rec.recognize_batch(lines)
for line in lines:
    rec.recognize(line)
rec.recognize(lines[0], decoder="beam", beam_width=3)
rec.recognize(lines[0], lexicon=["Hello", "World"])
print(json.dumps(log.compiled))
"""


def run(args, env):
    return run_python(*args, env=env, timeout=600)


def test_warmup_leaves_nothing_to_compile(tmp_path):
    # the page and case models this CPU's defaults pick (FP32 ones where int8 is slow)
    models = fast_models(DEFAULT_MODELS)[:1] + fast_models(CASE_MODELS)[:1]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), OPENBLAS_NUM_THREADS="1")
    first = run(["-m", "tinycrnn", "warmup", *models], env)
    assert first.returncode == 0, first.stderr
    assert f"{models[0]}:" in first.stdout and " 0 kernels compiled" not in first.stdout  # empty cache: work done
    assert NOTICE not in first.stderr  # warm-up compiles on purpose and says so itself
    after = run(["-c", AFTER_WARMUP, SAMPLES], env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout.splitlines()[-1]) == []
    assert NOTICE not in after.stderr
    again = run(["-m", "tinycrnn", "warmup", *models], env)
    assert again.stdout.count(" 0 kernels compiled") == 2, again.stdout
    read = run(["-m", "tinycrnn", "read", os.path.join(SAMPLES, "hello_world.png")], env)
    assert read.stdout.strip() == "Hello World" and COLD_HINT not in read.stderr and NOTICE not in read.stderr, read.stderr


def compiled_files(folder):
    return [f for _, _, files in os.walk(folder) for f in files if f.endswith((".nbi", ".nbc"))]


def test_a_small_read_on_a_cold_machine_runs_the_twins_and_compiles_nothing(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    for var in ("TINYCRNN_KERNELS", "TINYCRNN_QUIET"):
        env.pop(var, None)
    image = os.path.join(SAMPLES, "hello_world.png")
    for extra in ([], ["--line"]):
        cold = run(["-m", "tinycrnn", "read", *extra, image], env)
        assert cold.returncode == 0 and cold.stdout.strip() == "Hello World", cold.stderr
        assert cold.stderr.count(COLD_HINT) == 1 and NOTICE not in cold.stderr, cold.stderr
    assert compiled_files(tmp_path) == []
    forced = run(["-m", "tinycrnn", "read", "--line", "--backend", "numba", image], env)
    assert forced.stdout.strip() == "Hello World" and COLD_HINT not in forced.stderr and NOTICE in forced.stderr
    assert compiled_files(tmp_path)


def test_cold_read_rule(tmp_path, monkeypatch):
    from argparse import Namespace

    from tinycrnn.cli import COLD_TWIN_MAX_IMAGES, _cold_read_backend
    from tinycrnn.engine import resolve_model_path
    from tinycrnn.kernels.warm_marks import mark_warm

    model = resolve_model_path("english_g2")
    few, many = ["a.png"] * COLD_TWIN_MAX_IMAGES, ["a.png"] * (COLD_TWIN_MAX_IMAGES + 1)
    monkeypatch.delenv("TINYCRNN_KERNELS", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TINYCRNN_QUIET", "1")
    assert _cold_read_backend(Namespace(backend=None, images=few), [model]) == "numpy"
    assert _cold_read_backend(Namespace(backend=None, images=many), [model]) is None  # big reads compile
    assert _cold_read_backend(Namespace(backend="numba", images=few), [model]) == "numba"
    mark_warm(model)  # what tinycrnn warmup leaves behind
    assert _cold_read_backend(Namespace(backend=None, images=few), [model]) is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cold"))  # cold again, but TINYCRNN_KERNELS decides
    monkeypatch.setenv("TINYCRNN_KERNELS", "numba")
    assert _cold_read_backend(Namespace(backend=None, images=few), [model]) is None


FIRST_COMPILE = """
import numpy as np
from tinycrnn.decode.ctc import best_path
lp = np.log(np.full((4, 3), 1 / 3))
best_path(lp, np.array([1, 2]), 0)
best_path(lp, np.array([2]), 0)
print("done")
"""


def test_a_compile_is_announced_once_and_a_cache_hit_not_at_all(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    env.pop("TINYCRNN_QUIET", None)
    first = run(["-c", FIRST_COMPILE], env)
    assert first.returncode == 0 and first.stdout.strip() == "done", first.stderr
    assert first.stderr.count(NOTICE) == 1, first.stderr
    assert "once per machine" in first.stderr and "tinycrnn warmup" in first.stderr and str(tmp_path) in first.stderr
    second = run(["-c", FIRST_COMPILE], env)
    assert second.returncode == 0 and NOTICE not in second.stderr, second.stderr
    quiet = run(["-c", FIRST_COMPILE], dict(env, NUMBA_CACHE_DIR=str(tmp_path / "other"), TINYCRNN_QUIET="1"))
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
