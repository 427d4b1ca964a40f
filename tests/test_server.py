"""The web service over real HTTP: `tinycrnn serve` runs as a subprocess on a loopback port."""
import concurrent.futures
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib

import cv2
import numpy as np
import pytest

from conftest import NEUTRAL_CWD, SAMPLES, child_env

pytest.importorskip("flask", reason="the serve extra (flask, waitress) is not installed")
pytest.importorskip("waitress", reason="the serve extra (flask, waitress) is not installed")

SAMPLE_TEXT = {"hello_world.png": "Hello World", "invoice_line.png": "Invoice #2024-0117",
               "who_cook.png": "Thoroughly cook meat and eggs"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *args: str):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tinycrnn", "serve", "--port", str(self.port), *args],
                                     cwd=NEUTRAL_CWD, env=child_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.proc.stderr.read())
            try:
                self.get("/api/health")
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("server did not come up")

    def request(self, path, data=None, headers=None, method=None, timeout=60):
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path):
        return self.request(path)

    def post_json(self, path, data=None, headers=None):
        status, hdrs, body = self.request(path, data=data, headers=headers, method="POST")
        return status, hdrs, json.loads(body)

    def rss_kb(self) -> int:
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stderr.close()


def multipart(fields):
    boundary = uuid.uuid4().hex
    out = b""
    for name, (filename, content, ctype) in fields.items():
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def sample_bytes(name="hello_world.png"):
    return open(os.path.join(SAMPLES, name), "rb").read()


def png_bomb(w=30000, h=30000):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100000)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def server():
    s = Server("--model", "english_g2", "--threads", "16", "--max-bytes", str(8 << 20), "--max-wait-ms", "20")
    yield s
    s.stop()


def test_server_health_and_openapi(server):
    status, _, body = server.get("/api/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["model"] == "english_g2"
    status, _, body = server.get("/api/openapi.json")
    doc = json.loads(body)
    assert status == 200 and doc["openapi"].startswith("3.")
    responses = doc["paths"]["/api/ocr"]["post"]["responses"]
    assert {"200", "400", "413", "415", "503"} <= set(responses)
    assert "Line" in doc["components"]["schemas"]


def test_server_serves_page_and_local_assets(server):
    status, hdrs, body = server.get("/")
    html = body.decode()
    assert status == 200 and "Recognise" in html and 'for="image-input"' in html
    assert "http://" not in html and "https://" not in html  # no CDN
    for asset in ("/static/app.js", "/static/style.css"):
        assert server.get(asset)[0] == 200


def test_server_ocr_multipart_and_raw_body(server):
    body, headers = multipart({"image": ("hello.png", sample_bytes(), "image/png")})
    status, _, res = server.post_json("/api/ocr?mode=line", body, headers)
    assert status == 200 and res["success"] is True
    (line,) = res["text"]
    assert line["text"] == "Hello World" and 0.9 < line["confidence"] <= 1
    assert len(line["box"]) == 4 and res["total_time_ms"] > 0
    assert [w["text"] for w in line["words"]] == ["Hello", "World"]
    assert all(len(w["box"]) == 4 and len(w["char_confidences"]) == len(w["text"]) for w in line["words"])
    status, _, res = server.post_json("/api/ocr?mode=line", sample_bytes("who_cook.png"), {"Content-Type": "image/png"})
    assert status == 200 and res["text"][0]["text"] == "Thoroughly cook meat and eggs"


def test_server_page_mode_reads_lines_in_order_with_boxes(server):
    body, headers = multipart({"image": ("receipt.png", sample_bytes("receipt.png"), "image/png"),
                               "mode": (None, b"page", None)})
    status, _, res = server.post_json("/api/ocr", body, headers)
    assert status == 200 and res["success"] is True
    texts = [ln["text"] for ln in res["text"]]
    assert "TOTAL" in texts and "12.40" in texts and texts.index("TOTAL") < texts.index("12.40")
    tops = [min(y for _, y in ln["box"]) for ln in res["text"]]
    assert tops[0] <= tops[-1] and all(len(ln["box"]) == 4 for ln in res["text"])
    assert all(" ".join(w["text"] for w in ln["words"]) == ln["text"] for ln in res["text"])
    health = json.loads(server.get("/api/health")[2])
    assert health["page_mode"] is True


def test_server_concurrent_pages_share_forward_passes(server):
    before = json.loads(server.get("/api/health")[2])["batching"]

    def one(_):
        return server.post_json("/api/ocr?mode=page", sample_bytes("receipt.png"), {"Content-Type": "image/png"})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    texts = [[ln["text"] for ln in r[2]["text"]] for r in results]
    assert all(r[0] == 200 for r in results) and all(t == texts[0] for t in texts)
    after = json.loads(server.get("/api/health")[2])["batching"]
    assert after["shared_passes"] > before["shared_passes"]


def test_server_options(server):
    status, _, res = server.post_json("/api/ocr?mode=line&min_confidence=0.999", sample_bytes("who_cook.png"),
                                      {"Content-Type": "image/png"})
    assert status == 200 and res["text"] == []
    status, _, res = server.post_json("/api/ocr?mode=sideways", sample_bytes(), {"Content-Type": "image/png"})
    assert status == 400 and res["error"]["code"] == "bad_option"
    status, _, res = server.post_json("/api/ocr?min_confidence=high", sample_bytes(), {"Content-Type": "image/png"})
    assert status == 400 and res["error"]["code"] == "bad_option"
    status, _, res = server.post_json("/api/ocr?detector=sideways", sample_bytes(), {"Content-Type": "image/png"})
    assert status == 400 and res["error"]["code"] == "bad_option"
    status, _, res = server.post_json("/api/ocr?detector=lines", sample_bytes(), {"Content-Type": "image/png"})
    assert status == 200 and res["text"]


@pytest.mark.parametrize("name,data,headers,status,code", [
    ("empty body", b"", {"Content-Type": "image/png"}, 400, "empty_body"),
    ("non-image bytes typed as image", b"definitely not an image" * 10, {"Content-Type": "image/jpeg"}, 400, "not_an_image"),
    ("GIF", b"GIF89a" + b"\0" * 100, {"Content-Type": "image/gif"}, 415, "unsupported_media_type"),
    ("PDF", b"%PDF-1.4\n" + b"\0" * 100, {"Content-Type": "application/octet-stream"}, 415, "unsupported_media_type"),
    ("text body", b"hello", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("decompression bomb", png_bomb(), {"Content-Type": "image/png"}, 413, "too_many_pixels"),
])
def test_server_bad_input_gets_json_error(server, name, data, headers, status, code):
    got, _, res = server.post_json("/api/ocr", data, headers)
    assert (got, res["success"], res["error"]["code"]) == (status, False, code), name
    assert "Traceback" not in res["error"]["message"]


def test_server_truncated_jpeg_and_wrong_field(server):
    jpg = cv2.imencode(".jpg", cv2.imread(os.path.join(SAMPLES, "who_cook.png")))[1].tobytes()
    status, _, res = server.post_json("/api/ocr", jpg[: len(jpg) // 2], {"Content-Type": "image/jpeg"})
    assert status == 400 and res["error"]["code"] == "bad_image"
    body, headers = multipart({"file": ("hello.png", sample_bytes(), "image/png")})
    status, _, res = server.post_json("/api/ocr", body, headers)
    assert status == 400 and res["error"]["code"] == "missing_field" and "file" in res["error"]["message"]


def test_server_fifty_megabyte_upload_is_413_and_server_keeps_serving(server):
    big = os.urandom(1024) * (50 * 1024)
    status, _, res = server.post_json("/api/ocr", big, {"Content-Type": "image/png"})
    assert status == 413 and res["error"]["code"] == "too_large"
    status, _, res = server.post_json("/api/ocr?mode=line", sample_bytes(), {"Content-Type": "image/png"})
    assert status == 200 and res["text"][0]["text"] == "Hello World"


def test_server_slow_client_does_not_block_others(server):
    slow = socket.create_connection(("127.0.0.1", server.port))
    try:
        slow.sendall(b"POST /api/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG")
        status, _, res = server.post_json("/api/ocr?mode=line", sample_bytes(), {"Content-Type": "image/png"})
        assert status == 200 and res["text"][0]["text"] == "Hello World"
    finally:
        slow.close()


def test_server_concurrent_requests_are_batched_and_correct(server):
    names = list(SAMPLE_TEXT) * 12  # 36 requests
    before = json.loads(server.get("/api/health")[2])["batching"]

    def one(name):
        return name, server.post_json("/api/ocr?mode=line", sample_bytes(name), {"Content-Type": "image/png"})

    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(one, names))
    for name, (status, _, res) in results:
        assert status == 200, res
        assert res["text"][0]["text"] == SAMPLE_TEXT[name]
    after = json.loads(server.get("/api/health")[2])["batching"]
    assert after["lines"] - before["lines"] == len(names)
    assert after["forward_passes"] - before["forward_passes"] < len(names)  # lines shared forward passes
    assert after["shared_passes"] > before["shared_passes"]


def test_server_memory_returns_to_baseline_after_bad_uploads(server):
    server.post_json("/api/ocr", png_bomb(), {"Content-Type": "image/png"})
    base = server.rss_kb()
    big = os.urandom(1024) * (20 * 1024)
    for _ in range(10):
        server.post_json("/api/ocr", big, {"Content-Type": "image/png"})
        server.post_json("/api/ocr", png_bomb(), {"Content-Type": "image/png"})
        server.post_json("/api/ocr", b"junk" * 1000, {"Content-Type": "image/png"})
    assert server.rss_kb() - base < 100_000  # KiB: 10 x 20 MB uploads must not stay resident


def test_server_sigterm_stops_cleanly_with_exit_0():
    # podman/docker stop and systemd send SIGTERM, then kill after a grace period (10 s by default).
    s = Server("--model", "english_g2")
    try:
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=10) == 0
        err = s.proc.stderr.read()
        assert "tinycrnn stopped" in err and "Traceback" not in err, err
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
        s.proc.stderr.close()


def test_server_overload_returns_503_with_retry_after():
    s = Server("--model", "english_g2", "--threads", "8", "--max-queue", "1", "--max-wait-ms", "3000",
               "--max-batch", "64")
    try:
        def one(_):
            return s.post_json("/api/ocr?mode=line", sample_bytes(), {"Content-Type": "image/png"})

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(one, range(6)))
        statuses = sorted(r[0] for r in results)
        assert 200 in statuses and 503 in statuses, statuses
        for status, headers, res in results:
            if status == 503:
                assert res["error"]["code"] == "overloaded" and headers.get("Retry-After") == "1"
            else:
                assert res["text"][0]["text"] == "Hello World"
    finally:
        s.stop()


def test_server_numpy_decoded_pixels_over_limit_is_413(server):
    # a real (not just declared) 9000x5000 PNG: under the byte limit, over 40 MP? no: 45 MP > 40 MP
    img = np.zeros((5000, 9000), np.uint8)
    data = cv2.imencode(".png", img)[1].tobytes()
    status, _, res = server.post_json("/api/ocr", data, {"Content-Type": "image/png"})
    assert status == 413 and res["error"]["code"] == "too_many_pixels"
