"""A real two-node Ray cluster on loopback for tests: ``ray start --head`` plus a second node, each a
``ray start --block`` in its own session so the test can stop exactly what it started (never ``ray stop``,
which would stop every Ray on the machine)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

READY = "block forever"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(c) for c in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


class LocalRayCluster:
    """``with LocalRayCluster(cpus_per_node=2) as c: ... c.address``: head + one more node on 127.0.0.1."""

    def __init__(self, cpus_per_node: int = 2, nodes: int = 2, timeout: float = 60.0):
        self.cpus, self.nodes, self.timeout = cpus_per_node, nodes, timeout
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="trb-")  # Ray's socket paths must stay short
        self.procs = []
        self.ray = os.path.join(os.path.dirname(sys.executable), "ray")

    def _start(self, args, log):
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        f = open(os.path.join(self.tmp, log), "w+")
        proc = subprocess.Popen([self.ray, "start", *args, "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus),
                                 "--temp-dir", self.tmp, "--block"], stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        self.procs.append(proc)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            f.seek(0)
            text = f.read()
            if READY in text:
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"ray start {' '.join(args)} did not come up:\n{text[-2000:]}")

    def __enter__(self):
        try:
            self._start(["--head", "--port", str(self.port), "--include-dashboard=false", "--disable-usage-stats"],
                        "head.log")
            for k in range(1, self.nodes):
                self._start(["--address", self.address], f"node{k}.log")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """SIGTERM each node's session, then SIGKILL every process it had started (listed before the SIGTERM)."""
        pids = [d for p in self.procs for d in _descendants(p.pid)]
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3  # NOTE: a Ray node takes its time on SIGTERM, and its actors outlive it
        while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
            time.sleep(0.1)
        for pid in pids + [p.pid for p in self.procs]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __exit__(self, *exc):
        self.stop()
