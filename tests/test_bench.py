"""tinycrnn bench: statistics, thread environment, report formatting, plots, and a smoke run (no timing asserts)."""
import json
import os

import pytest

from conftest import SAMPLES, run_tinycrnn
from tinycrnn.bench import LINE_STAGES, THREAD_VARS, summarize, thread_env
from tinycrnn.bench_compare import format_compare


def run(*args, env=None):
    return run_tinycrnn(*args, env=env, timeout=600)


def test_summarize_min_median_p90_max():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert (s["min"], s["median"], s["max"], s["n"]) == (1.0, 5.5, 10.0, 10)
    assert s["p90"] == pytest.approx(9.1)
    assert summarize([2.0])["p90"] == 2.0


def test_thread_env_pins_every_pool_without_touching_os_environ():
    before = dict(os.environ)
    env = thread_env(3, {"PATH": "/bin"})
    assert all(env[v] == "3" for v in THREAD_VARS) and env["PATH"] == "/bin"
    assert dict(os.environ) == before


def test_format_compare_table_of_ratios():
    rows = []
    for eng, ms in (("tinycrnn", 10.0), ("onnxruntime", 5.0), ("torch", 20.0)):
        rows.append({"input": "random w=256", "shape": [1, 1, 64, 256], "engine": eng, "median": ms, "min": ms,
                     "max": ms, "p90": ms, "max_abs_diff": 0.0 if eng == "tinycrnn" else 1e-4})
    rows.append({"input": "random w=256", "shape": [1, 1, 64, 256], "engine": "cv2.dnn", "error": "cv2.error: boom"})
    text = format_compare({"engines": ["tinycrnn", "onnxruntime", "torch", "cv2.dnn"], "rows": rows, "notes": ["n1"],
                           "threads": 1, "runs": 3})
    ratio_line = [ln for ln in text.splitlines() if ln.startswith("random w=256")][1]
    assert "0.50x" in ratio_line and "2.00x" in ratio_line and "1.00x" in ratio_line
    assert "failed: cv2.dnn on random w=256: cv2.error: boom" in text and "note: n1" in text


def test_plot_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from tinycrnn.bench_compare import plot

    st = {s: summarize([1.0, 2.0]) for s in LINE_STAGES + ("total",)}
    res = {"lines": [{"image": "a.png", "input": [1, 1, 64, 256], "stages": st}], "model": {"name": "m"},
           "threads": 1, "backend": "numba"}
    cmp = {"engines": ["tinycrnn", "onnxruntime"], "threads": 1, "rows": [
        {"engine": e, "input": f"random w={w}", "shape": [1, 1, 64, w], "median": w / k, "min": w / k} for e, k in (("tinycrnn", 10), ("onnxruntime", 20))
        for w in (128, 256)]}
    written = plot(res, cmp, str(tmp_path))
    assert sorted(os.path.basename(p) for p in written) == ["latency_vs_width.png", "stages.png"]
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in written)


def test_cli_bench_smoke_runs_2():
    # no images: the sample images installed with the package (tinycrnn.samples)
    p = run("bench", "--runs", "2", "--warmup", "0")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "first line (JIT compile or cache load)" in out and "peak RSS" in out and "model load" in out
    for name in ("hello_world.png", "who_cook.png"):
        assert name in out
    for stage in LINE_STAGES:
        assert f" {stage} " in out


def test_cli_bench_json_pins_threads_in_a_child():
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    p = run("bench", "--runs", "2", "--warmup", "0", "--threads", "1", "--json",
            os.path.join(SAMPLES, "hello_world.png"), env=env)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["threads"] == 1 and res["runs"] == 2
    assert res["model"]["bytes"] > 0 and res["peak_rss_mb"] > 0
    line = res["lines"][0]
    assert line["text"] == "Hello World" and line["input"][:3] == [1, 1, 64]
    assert set(line["stages"]) == set(LINE_STAGES) | {"total"} and line["stages"]["total"]["n"] == 2


def test_cli_bench_bad_arguments_exit_2():
    p = run("bench", "--runs", "0")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    p = run("bench", os.path.join(SAMPLES, "nope.png"), "--runs", "1")
    assert p.returncode == 2 and "nope.png" in p.stderr and "Traceback" not in p.stderr


def test_bench_format_compare_ratios_on_median_and_min():
    rows = [{"input": "w256", "engine": e, "shape": [1, 1, 64, 256], "median": med, "min": lo}
            for e, med, lo in (("tinycrnn", 10.0, 9.0), ("onnxruntime", 8.0, 4.5))]
    text = format_compare({"engines": ["tinycrnn", "onnxruntime"], "rows": rows, "notes": [], "threads": 1, "runs": 5})
    ratio_lines = [line for line in text.splitlines() if line.startswith("w256") and "x" in line.split()[-1]]
    assert [line.split()[-1] for line in ratio_lines] == ["0.80x", "0.50x"]
