"""``tinycrnn batch`` / ``tinycrnn.batch.run``: equal records for any worker count, resume after an
interrupt with nothing lost or doubled, one error record per bad file, and a journal that stays valid JSONL."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import NEUTRAL_CWD, SAMPLES, child_env, run_python, run_tinycrnn

from tinycrnn.batch import InputError, comparable, expand_inputs, read_records, run
from tinycrnn.batch.records import JournalError, open_journal

SAMPLE_PNGS = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES) if f.endswith(".png"))


#: Line confidences of the same image agree to this between processes: float sums in the FP32 kernels and
#: BLAS depend on buffer alignment, which differs with each process's allocation history (1e-6 seen).
CONFIDENCE_ATOL = 1e-5


def _by_path(records):
    out = {}
    for r in records:
        assert r["path"] not in out, f"duplicate record for {r['path']}"
        out[r["path"]] = comparable(r)
    return out


def _same(a, b):
    """Two {path: record} maps hold the same records: equal but for line confidences within CONFIDENCE_ATOL."""
    assert set(a) == set(b)
    for p in a:
        ra, rb = dict(a[p]), dict(b[p])
        la, lb = ra.pop("lines", []), rb.pop("lines", [])
        assert ra == rb, p
        assert [(x["text"], x["box"]) for x in la] == [(y["text"], y["box"]) for y in lb], p
        assert all(abs(x["confidence"] - y["confidence"]) <= CONFIDENCE_ATOL for x, y in zip(la, lb)), p
    return True


#: Copies of the sample lines in the batch folder: enough for a run to still be going when a test interrupts it
#: after its first records (8 copies were not, once line reading got faster: the run ended before the signal)
COPIES = 20


@pytest.fixture(scope="module")
def line_folder(tmp_path_factory):
    """COPIES x the sample lines in nested folders."""
    root = tmp_path_factory.mktemp("lines")
    for k in range(COPIES):
        sub = root / f"part{k % 2}" / f"copy{k}"
        sub.mkdir(parents=True)
        for p in SAMPLE_PNGS:
            shutil.copy(p, sub / os.path.basename(p))
    return str(root)


@pytest.fixture(scope="module")
def line_reference(line_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "ref.jsonl")
    records = list(run([line_folder], out=out, workers=2, mode="line"))
    assert len(records) == COPIES * len(SAMPLE_PNGS) and read_records(out) == records
    return _by_path(records)


def test_batch_page_records_equal_between_one_and_two_workers():
    one = list(run(SAMPLE_PNGS, workers=1, mode="page"))
    two = list(run(SAMPLE_PNGS, workers=2, mode="page", ordered=True))
    assert [r["path"] for r in two] == [os.path.normpath(p) for p in SAMPLE_PNGS]  # --ordered: input order
    assert _same(_by_path(one), _by_path(two))
    assert all(r["lines"] and "error" not in r for r in one)
    rec = _by_path(one)[os.path.normpath(os.path.join(SAMPLES, "hello_world.png"))]
    assert [line["text"] for line in rec["lines"]] == ["Hello World"]
    assert len(rec["lines"][0]["box"]) == 4 and set(one[0]["timing_ms"]) == {"load", "detect", "recognise", "total"}


def test_batch_bad_files_get_one_error_record_each(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = open(os.path.join(SAMPLES, "hello_world.png"), "rb").read()
    (folder / "good.png").write_bytes(good)
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "corrupt.png").write_bytes(good[:33] + bytes(range(256)) * 4)
    (folder / "text.jpg").write_bytes(b"this is not an image\n" * 10)
    (folder / "notes.md").write_text("not picked up: folders take image extensions only")
    other = tmp_path / "data.bin"
    other.write_bytes(os.urandom(300))
    missing = str(tmp_path / "missing.png")
    out = str(tmp_path / "out.jsonl")
    res = run_tinycrnn("batch", str(folder), str(other), missing, "--out", out, "--workers", "2", "--quiet")
    assert res.returncode == 0, res.stderr
    recs = _by_path(read_records(out))
    errors = {os.path.basename(p): r["error"] for p, r in recs.items() if "error" in r}
    assert set(errors) == {"empty.png", "truncated.png", "corrupt.png", "text.jpg", "data.bin", "missing.png"}
    assert all(e["type"].endswith("Error") and e["message"] for e in errors.values())
    assert [line["text"] for line in recs[str(folder / "good.png")]["lines"]] == ["Hello World"]


def _children(pid):
    """Worker processes of a batch process: spawned ones (``spawn_main`` in their command line), not the resource
    tracker, nor a child between fork and exec (it still shows the parent's command line)."""
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            kids += [int(c) for c in f.read().split()]
    workers = []
    for k in kids:
        try:
            with open(f"/proc/{k}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    workers.append(k)
        except OSError:
            pass  # exited meanwhile
    return workers


def _start(folder, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "tinycrnn", "batch", folder, "--out", out, "--mode", "line",
                             "--workers", "2", "--quiet", *extra], cwd=NEUTRAL_CWD, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_records(out, n, proc, timeout=120):
    t = time.monotonic() + timeout
    while time.monotonic() < t and proc.poll() is None:
        if os.path.exists(out) and open(out, "rb").read().count(b"\n") >= n:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_batch_interrupt_then_rerun_gives_the_uninterrupted_records(line_folder, line_reference, tmp_path, sig):
    out = str(tmp_path / "run.jsonl")
    proc = _start(line_folder, out)
    interrupted = _wait_records(out, 3, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    partial = len(read_records(out))
    total = COPIES * len(SAMPLE_PNGS)
    if interrupted and sig == signal.SIGINT:
        # a signal that lands after the last record ends a complete run normally
        complete = proc.returncode == 0 and partial == total
        assert complete or (proc.returncode == 130 and "interrupted" in err and "rerun" in err), err
    assert partial < total or not interrupted or proc.returncode == 0  # ended before the signal: complete
    res = run_tinycrnn("batch", line_folder, "--out", out, "--mode", "line", "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert f"{partial} already in" in res.stderr or partial == 0
    assert open(out, "rb").read().endswith(b"\n")
    assert _same(_by_path(read_records(out)), line_reference)


def test_batch_killed_worker_becomes_an_error_record_and_the_run_goes_on(line_folder, line_reference, tmp_path):
    out = str(tmp_path / "run.jsonl")
    # one worker: once records come, it is the one reading (with two, the victim could still be loading its models)
    proc = _start(line_folder, out, "--workers", "1")
    assert _wait_records(out, 2, proc), "the run ended before a worker could be killed"
    victim = _children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recs = _by_path(read_records(out))
    died = [p for p, r in recs.items() if r.get("error", {}).get("type") == "WorkerDied"]
    assert len(died) == 1 and f"worker {victim} died with signal 9" in recs[died[0]]["error"]["message"]
    assert set(recs) == set(line_reference)
    assert _same({p: r for p, r in recs.items() if p not in died}, {p: r for p, r in line_reference.items() if p not in died})
    # --retry-errors reads it again and leaves exactly one record per image
    res = run_tinycrnn("batch", line_folder, "--out", out, "--mode", "line", "--workers", "1", "--retry-errors", "--quiet")
    assert res.returncode == 0, res.stderr
    assert _same(_by_path(read_records(out)), line_reference)


def test_batch_worker_killed_while_loading_is_replaced(line_folder, line_reference, tmp_path):
    # the OOM killer's case: a worker dies by a signal before it is ready (or, if it was quick, while reading)
    out = str(tmp_path / "run.jsonl")
    proc = _start(line_folder, out, "--workers", "1")
    deadline = time.monotonic() + 60
    kids = []
    while not kids and time.monotonic() < deadline and proc.poll() is None:
        kids = _children(proc.pid)
        time.sleep(0.005)
    assert kids, "no worker process appeared"
    os.kill(kids[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recs = _by_path(read_records(out))
    died = [p for p, r in recs.items() if r.get("error", {}).get("type") == "WorkerDied"]
    assert set(recs) == set(line_reference) and len(died) <= 1
    # no WorkerDied record: the kill landed while the worker loaded, and the run said so
    assert died or "was killed by signal 9 while loading its models; restarted" in err, err
    assert _same({p: r for p, r in recs.items() if p not in died}, {p: r for p, r in line_reference.items() if p not in died})


def test_batch_journal_cuts_a_truncated_last_line(tmp_path):
    out = tmp_path / "r.jsonl"
    good = [{"path": "a.png", "lines": []}, {"path": "b.png", "error": {"type": "ImageError", "message": "x"}}]
    out.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"path": "c.png", "li')
    done, cut = open_journal(str(out))
    assert done == {"a.png", "b.png"} and cut == len('{"path": "c.png", "li')
    assert out.read_text().endswith("}\n") and read_records(str(out)) == good
    done, _ = open_journal(str(out), retry_errors=True)
    assert done == {"a.png"} and read_records(str(out)) == good[:1]
    out.write_text('{"path": "a.png"}\nnot json\n{"path": "b.png"}\n')
    with pytest.raises(JournalError, match="line 2"):
        open_journal(str(out))


def test_batch_rerun_after_a_partial_last_line_is_valid_jsonl(tmp_path):
    out = str(tmp_path / "r.jsonl")
    first = list(run(SAMPLE_PNGS[:2], out=out, workers=1, mode="line"))
    with open(out, "ab") as f:
        f.write(b'{"path": "' + SAMPLE_PNGS[2].encode() + b'", "mode": "li')  # killed mid-write
    more = list(run(SAMPLE_PNGS[:3], out=out, workers=1, mode="line"))
    assert [r["path"] for r in more] == [os.path.normpath(SAMPLE_PNGS[2])]
    assert read_records(out) == first + more


def test_batch_inputs_expand_folders_globs_and_lists(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.png", "a/b/2.JPG", "a/b/skip.txt", "a/3.tif"):
        (tmp_path / name).write_bytes(b"x")
    lst = tmp_path / "list.txt"
    lst.write_text("# comment\na/3.tif\nmissing.png\n\n")
    folder = str(tmp_path / "a")
    assert expand_inputs([folder]) == [f"{folder}/1.png", f"{folder}/3.tif", f"{folder}/b/2.JPG"]
    assert expand_inputs([f"{tmp_path}/a/**/*.JPG"]) == [f"{folder}/b/2.JPG"]
    assert expand_inputs([str(lst), "@" + str(lst), folder]) == [f"{folder}/3.tif", str(tmp_path / "missing.png"),
                                                                 f"{folder}/1.png", f"{folder}/b/2.JPG"]
    with pytest.raises(InputError):
        expand_inputs([f"{tmp_path}/nothing/*.png"])


def test_batch_import_loads_no_model_code_and_no_ray():
    code = "import sys, tinycrnn.batch; print([m for m in ('numba', 'cv2', 'ray', 'pyarrow') if m in sys.modules])"
    assert run_python("-c", code).stdout.strip() == "[]"


def test_batch_parquet_output(tmp_path):
    pytest.importorskip("pyarrow", reason="the parquet extra (pyarrow) is not installed")
    import pyarrow.parquet as pq

    out = str(tmp_path / "r.parquet")
    res = run_tinycrnn("batch", *SAMPLE_PNGS[:2], str(tmp_path / "bad.png"), "--out", out, "--mode", "line", "--quiet")
    assert res.returncode == 0, res.stderr
    rows = pq.read_table(out).to_pylist()
    assert [r["path"] for r in rows] == [r["path"] for r in read_records(out + ".jsonl")]
    assert sum(r["error"] is not None for r in rows) == 1
    assert all(r["lines"][0]["text"] for r in rows if r["error"] is None)
