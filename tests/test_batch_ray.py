"""``tinycrnn batch --ray`` on a real two-node Ray cluster on loopback: the records of a local run."""
import importlib.util
import os

import pytest
from conftest import SAMPLES, run_tinycrnn
from test_batch import SAMPLE_PNGS, _by_path, _same

from tinycrnn.batch import read_records, run

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="Ray is not installed (pip install 'tinycrnn[ray]')")


def test_batch_ray_two_node_cluster_gives_the_local_records(tmp_path):
    from ray_cluster import LocalRayCluster

    inputs = [*SAMPLE_PNGS, str(tmp_path / "missing.png")]
    local = _by_path(run(inputs, workers=2, mode="page"))
    out = str(tmp_path / "ray.jsonl")
    # NOTE: 2 logical CPUs per node and 2 actors of 1 CPU: Ray Data keeps free CPUs for its own tasks
    with LocalRayCluster(cpus_per_node=2, nodes=2) as cluster:
        res = run_tinycrnn("batch", *inputs, "--out", out, "--ray", cluster.address, "--workers", "2", "--quiet",
                           timeout=120)
        assert res.returncode == 0, res.stderr[-3000:]
        again = run_tinycrnn("batch", *inputs, "--out", out, "--ray", cluster.address, "--workers", "2", timeout=60)
        assert again.returncode == 0 and f"{len(inputs)} already in" in again.stderr, again.stderr[-3000:]
    records = _by_path(read_records(out))
    assert _same(records, local)
    assert records[str(tmp_path / "missing.png")]["error"]["type"] == "ImageNotFoundError"
    hello = records[os.path.join(SAMPLES, "hello_world.png")]
    assert [line["text"] for line in hello["lines"]] == ["Hello World"]
