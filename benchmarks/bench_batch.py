"""Batch throughput: ``tinycrnn.batch.run`` with 1 and 2 workers (interleaved), local processes vs Ray, and
Tesseract / RapidOCR run the way their users scale them (one process per core). Also where the time goes
(model load, load+deskew, detect, recognise, the rest = IPC and idle) and what crosses process boundaries.

    python -m benchmarks.bench_batch --scaling --rounds 3                # SROIE dev pages + line crops
    python -m benchmarks.bench_batch --ray --rounds 2                    # starts a 2-node loopback cluster
    python -m benchmarks.bench_batch --peers --rapidocr-python /path/venv/bin/python
    python -m benchmarks.bench_batch --ipc

Every run prints one JSON line (and ``--json FILE`` appends them), with ``uptime``'s load averages.
Outside pytest; never asserts a time.
"""
import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("TINYCRNN_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
PAGES = os.path.join(DATA, "sroie", "images")          # the dev receipts (benchmarks/eval_pages.py: pages.tsv)
LINES = os.path.join(DATA, "sroie_lines", "images")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def line_inputs(n: int) -> List[str]:
    return [os.path.join(LINES, f) for f in sorted(os.listdir(LINES))[:n]]


def summarize_records(records: List[Dict[str, Any]]) -> Dict[str, float]:
    ok = [r for r in records if "error" not in r]
    t = {k: sum(r["timing_ms"][k] for r in ok) / 1000 for k in ("load", "detect", "recognise", "total")}
    return {"worker_wall_s_" + k: round(v, 2) for k, v in t.items()}  # wall time inside the workers, summed


def _drain(records_iter) -> Tuple[List[Dict[str, Any]], float, float]:
    """Consume a record stream: (records, seconds to the first record, wall seconds). The clock starts here, so
    pass a generator that has not started yet."""
    t0 = time.perf_counter()
    first, records = None, []
    for rec in records_iter:
        first = first if first is not None else time.perf_counter() - t0
        records.append(rec)
    return records, first, time.perf_counter() - t0


def time_local(inputs: List[str], workers: int, mode: str, chunksize: int = 1, model=None) -> Dict[str, Any]:
    from tinycrnn.batch import RunStats, run

    stats = RunStats()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    records, first, wall = _drain(run(inputs, workers=workers, mode=mode, chunksize=chunksize, model=model, stats=stats))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)  # the workers, reaped at the end
    return {"engine": "tinycrnn", "workers": workers, "mode": mode, "chunksize": chunksize, "images": len(records),
            "lines": stats.lines, "errors": stats.errors, "wall_s": round(wall, 2), "first_record_s": round(first, 2),
            "images_per_s": round(len(records) / wall, 3), "lines_per_s": round(stats.lines / wall, 2),
            "model_load_ms": [round(x) for x in stats.load_ms], "workers_cpu_s": round(cpu, 2),
            "images_per_cpu_s": round(len(records) / cpu, 3) if cpu else None, **summarize_records(records),
            "loadavg": loadavg(),
            "_records": records}


def time_ray(inputs: List[str], address: str, actors: int, mode: str, send_bytes: bool = False) -> Dict[str, Any]:
    from tinycrnn.batch import RunStats
    from tinycrnn.batch.ray import run_on_ray

    stats = RunStats()
    records, first, wall = _drain(run_on_ray(inputs, address=address, actors=actors, mode=mode, send_bytes=send_bytes,
                                             stats=stats))
    return {"engine": "tinycrnn-ray" + ("-bytes" if send_bytes else ""), "workers": actors, "mode": mode,
            "images": len(records), "lines": stats.lines, "wall_s": round(wall, 2), "first_record_s": round(first, 2),
            "images_per_s": round(len(records) / wall, 3), "lines_per_s": round(stats.lines / wall, 2),
            **summarize_records(records), "loadavg": loadavg(), "_records": records}


def _cpu(ru) -> float:
    return ru.ru_utime + ru.ru_stime


def _children_cpu() -> float:
    """CPU seconds of every reaped descendant (the scheduler shares the machine per session, so under load a
    wall time says little; CPU seconds per image does not depend on the share)."""
    return _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))


def same_texts(a: List[Dict], b: List[Dict]) -> bool:
    key = lambda recs: {r["path"]: [(x["text"], x["box"]) for x in r.get("lines", [])] for r in recs}  # noqa: E731
    return key(a) == key(b)


def time_tesseract(inputs: List[str], procs: int, line: bool) -> Dict[str, Any]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    psm = "7" if line else "3"

    def one(path):
        out = subprocess.run(["tesseract", path, "stdout", "--psm", psm], env=env, capture_output=True, text=True)
        return len([ln for ln in out.stdout.splitlines() if ln.strip()])

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(procs) as ex:  # one tesseract process per image, `procs` at a time (xargs -P)
        lines = sum(ex.map(one, inputs))
    wall = time.perf_counter() - t0
    return {"engine": "tesseract", "workers": procs, "mode": "line" if line else "page", "images": len(inputs),
            "lines": lines, "wall_s": round(wall, 2), "workers_cpu_s": round(_children_cpu() - _cpu(ru0), 2), "images_per_s": round(len(inputs) / wall, 3),
            "lines_per_s": round(lines / wall, 2), "loadavg": loadavg()}


def time_rapidocr(inputs: List[str], procs: int, line: bool, python: str) -> Dict[str, Any]:
    cmd = [python, os.path.join(ROOT, "benchmarks", "_rapidocr_batch.py"), "--procs", str(procs)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd + (["--line"] if line else []) + inputs, capture_output=True, text=True, check=True)
    cpu = _children_cpu() - _cpu(ru0)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    wall = res["seconds"]
    return {"engine": "rapidocr", "workers": procs, "mode": "line" if line else "page", "images": res["images"],
            "lines": res["lines"], "wall_s": round(wall, 2), "workers_cpu_s": round(cpu, 2), "images_per_s": round(res["images"] / wall, 3),
            "lines_per_s": round(res["lines"] / wall, 2), "loadavg": loadavg()}


def ipc_cost(records: List[Dict[str, Any]], n: int = 2000) -> Dict[str, Any]:
    """Bytes a record costs on the worker pipe (pickled) and as a journal line, and one pipe round trip."""
    import multiprocessing as mp

    sizes = [len(pickle.dumps(("rec", 0, r))) for r in records]
    jsizes = [len(json.dumps(r, ensure_ascii=False)) + 1 for r in records]
    a, b = mp.Pipe()
    rec = max(records, key=lambda r: len(r.get("lines", [])))
    t0 = time.perf_counter()
    for _ in range(n):
        a.send([(0, rec["path"])])
        b.recv()
        b.send(("rec", 0, rec))
        a.recv()
    rt = (time.perf_counter() - t0) / n * 1e6
    return {"pickled_record_bytes_mean": round(statistics.mean(sizes)), "pickled_record_bytes_max": max(sizes),
            "journal_line_bytes_mean": round(statistics.mean(jsizes)),
            "pipe_round_trip_us_largest_record": round(rt, 1), "largest_record_lines": len(rec.get("lines", []))}


def emit(row: Dict[str, Any], path: str) -> None:
    row = {k: v for k, v in row.items() if not k.startswith("_")}
    line = json.dumps(row)
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scaling", action="store_true", help="1 vs 2 workers, interleaved, pages and lines")
    ap.add_argument("--ray", action="store_true", help="local 2 workers vs Ray 2 actors on a 2-node loopback cluster")
    ap.add_argument("--peers", action="store_true", help="Tesseract and RapidOCR, 1 and 2 processes")
    ap.add_argument("--ipc", action="store_true", help="record sizes and pipe round trip")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pages", type=int, default=0, help="only the first N dev pages (0: all 24)")
    ap.add_argument("--lines", type=int, default=400, help="line crops taken from sroie_lines (sorted)")
    ap.add_argument("--what", default="pages,lines", help="pages, lines or both")
    ap.add_argument("--rapidocr-python", default="", help="python of a venv with rapidocr-onnxruntime")
    ap.add_argument("--json", default="", help="append the JSON lines here too")
    a = ap.parse_args(argv)
    sets = {"pages": (sorted(os.path.join(PAGES, f) for f in os.listdir(PAGES))[: a.pages or None], "page"),
            "lines": (line_inputs(a.lines), "line")}
    todo = [sets[w] for w in a.what.split(",")]
    print(f"# {os.uname().nodename} cores {os.cpu_count()} load {loadavg()}", file=sys.stderr)
    if a.scaling:
        for inputs, mode in todo:
            ref = None
            for r in range(a.rounds):
                for w in ((1, 2) if r % 2 == 0 else (2, 1)):
                    row = time_local(inputs, w, mode)
                    row["round"] = r
                    row["records_equal_texts_boxes"] = ref is None or same_texts(ref, row["_records"])
                    ref = ref or row["_records"]
                    emit(row, a.json)
    if a.ipc:
        row = time_local(sets["pages"][0][:8], 1, "page")
        emit({"ipc": "page", **ipc_cost(row["_records"])}, a.json)
        row = time_local(sets["lines"][0][:200], 1, "line")
        emit({"ipc": "line", **ipc_cost(row["_records"])}, a.json)
    if a.ray:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from ray_cluster import LocalRayCluster

        with LocalRayCluster(cpus_per_node=2, nodes=2) as cluster:
            for inputs, mode in todo:
                ref = None
                sizes = [os.path.getsize(p) for p in inputs]
                for r in range(a.rounds):
                    runs = [lambda: time_local(inputs, 2, mode), lambda: time_ray(inputs, cluster.address, 2, mode)]
                    for fn in (runs if r % 2 == 0 else runs[::-1]):
                        row = fn()
                        row["round"] = r
                        row["records_equal_texts_boxes"] = ref is None or same_texts(ref, row["_records"])
                        ref = ref or row["_records"]
                        emit(row, a.json)
                row = time_ray(inputs, cluster.address, 2, mode, send_bytes=True)
                row["image_bytes_mean"] = round(statistics.mean(sizes))
                emit(row, a.json)
    if a.peers:
        for inputs, mode in todo:
            for r in range(a.rounds):
                for procs in ((1, 2) if r % 2 == 0 else (2, 1)):
                    emit({**time_tesseract(inputs, procs, mode == "line"), "round": r}, a.json)
                    if a.rapidocr_python:
                        emit({**time_rapidocr(inputs, procs, mode == "line", a.rapidocr_python), "round": r}, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
