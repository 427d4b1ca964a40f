"""Bounded load test of `tinycrnn serve` on loopback: throughput, p50/p99 latency, errors, server RSS.

    python -m benchmarks.bench_server --requests 120 --concurrency 1,4,16,32 [--mode line] [--image samples/who_cook.png]

Starts its own server subprocess on a free 127.0.0.1 port, sends a fixed number of requests at
each concurrency level (never more, never elsewhere), then stops the server.
"""
import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .machine import machine_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=120, help="requests per concurrency level")
    ap.add_argument("--concurrency", default="1,4,16,32")
    ap.add_argument("--image", default=os.path.join(ROOT, "samples", "who_cook.png"))
    ap.add_argument("--mode", default="line", choices=("line", "page"))
    ap.add_argument("--model", default="english_g2")
    ap.add_argument("--server-args", default="", help="extra arguments for tinycrnn serve")
    args = ap.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "tinycrnn", "serve", "--port", str(port), "--model", args.model,
                             "--threads", "32", *args.server_args.split()], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        data = open(args.image, "rb").read()
        url = f"{base}/api/ocr?mode={args.mode}"

        def one(_):
            t = time.perf_counter()
            req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/octet-stream"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    ok = json.loads(r.read())["success"]
            except (urllib.error.URLError, OSError, ValueError):
                ok = False
            return ok, (time.perf_counter() - t) * 1000

        one(0)
        info = machine_info()
        print(f"# {info['cpu']}, {info['cores']} cores, {info['date']}, git {info.get('git')}, model {args.model}, "
              f"mode {args.mode}, image {os.path.basename(args.image)}, {args.requests} requests per level")
        print(f"{'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'rss before':>10} {'rss after':>10}"
              f" {'lines/pass':>10}")
        for conc in map(int, args.concurrency.split(",")):
            before = _rss_kb(proc.pid)
            h0 = json.loads(urllib.request.urlopen(base + "/api/health").read())["batching"]
            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(conc) as pool:
                res = list(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - t0
            h1 = json.loads(urllib.request.urlopen(base + "/api/health").read())["batching"]
            lat = sorted(ms for _, ms in res)
            passes = max(1, h1["forward_passes"] - h0["forward_passes"])
            print(f"{conc:>11} {args.requests / wall:8.1f} {lat[len(lat) // 2]:8.1f} {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:8.1f}"
                  f" {sum(not ok for ok, _ in res):>6} {before / 1024:8.0f}MB {_rss_kb(proc.pid) / 1024:8.0f}MB"
                  f" {(h1['lines'] - h0['lines']) / passes:10.2f}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
