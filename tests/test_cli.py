"""The tinycrnn command, run as a real subprocess."""
import json
import os

from conftest import SAMPLES, run_tinycrnn as run


def test_cli_read_prints_text_of_each_sample():
    p = run("read", os.path.join(SAMPLES, "hello_world.png"), os.path.join(SAMPLES, "invoice_line.png"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["Hello World", "Invoice #2024-0117"]


def test_cli_read_line_mode_json():
    p = run("read", "--line", "--json", os.path.join(SAMPLES, "who_cook.png"))
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["text"] == "Thoroughly cook meat and eggs"
    assert 0.5 < obj["confidence"] <= 1.0
    assert len(obj["char_confidences"]) == len(obj["text"]) and obj["total_time_ms"] > 0


def test_cli_read_page_mode_json_on_a_one_line_page():
    p = run("read", "--json", os.path.join(SAMPLES, "hello_world.png"))
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["success"] is True and [line["text"] for line in obj["text"]] == ["Hello World"]
    assert len(obj["text"][0]["box"]) == 4 and 0 < obj["text"][0]["confidence"] <= 1 and obj["total_time_ms"] > 0


def test_cli_bad_image_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    p = run("read", str(bad), os.path.join(SAMPLES, "hello_world.png"))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "bad.png" in p.stderr
    assert p.stdout.strip() == "Hello World"


def test_cli_unknown_model():
    p = run("read", "--model", "nope", os.path.join(SAMPLES, "hello_world.png"))
    assert p.returncode == 2 and "no model named" in p.stderr and "Traceback" not in p.stderr


def test_cli_inspect():
    p = run("inspect", "english_g2")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["classes"] == 97 and info["input"] == {"channels": 1, "height": 64}
