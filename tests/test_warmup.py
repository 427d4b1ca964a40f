"""``tinycrnn warmup``: after it, the page pipeline and the line models compile nothing more, whatever
widths, batch sizes and decoders real requests bring (a fresh Numba cache, real processes)."""
import json
import os
import subprocess
import sys

from conftest import ROOT

AFTER_WARMUP = """
import json
import cv2, tinycrnn
from tinycrnn.warmup import CompileLog
log = CompileLog().__enter__()
for page in ("samples/receipt.png", "samples/phototest.png"):  # receipt, and prose (the case model)
    tinycrnn.OCR().read(page)
rec = tinycrnn.Recognizer("english_g2-int8")
lines = [cv2.imread(p) for p in ("samples/hello_world.png", "samples/who_cook.png", "samples/invoice_line.png")]
lines += [lines[0][:, :40], cv2.resize(lines[1], None, fx=3, fy=1)]  # very narrow, very wide
rec.recognize_batch(lines)
for line in lines:
    rec.recognize(line)
rec.recognize(lines[0], decoder="beam", beam_width=3)
rec.recognize(lines[0], lexicon=["Hello", "World"])
print(json.dumps(log.compiled))
"""


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_warmup_leaves_nothing_to_compile(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    first = run(["-m", "tinycrnn", "warmup", "ppocrv2_zh-int8", "english_g2-int8"], env)
    assert first.returncode == 0, first.stderr
    assert "ppocrv2_zh-int8:" in first.stdout and " 0 kernels compiled" not in first.stdout  # empty cache: work done
    after = run(["-c", AFTER_WARMUP], env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout.splitlines()[-1]) == []
    again = run(["-m", "tinycrnn", "warmup", "ppocrv2_zh-int8", "english_g2-int8"], env)
    assert again.stdout.count(" 0 kernels compiled") == 2, again.stdout
