"""Bad input gets a clear, typed error: never a crash, a hang or a traceback from deep inside."""
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

import tinycrnn
from conftest import SAMPLES
from tinycrnn.errors import ImageError, InputTypeError, ModelNotFoundError, WeightFormatError
from tinycrnn.image_io import load_image

HELLO = os.path.join(SAMPLES, "hello_world.png")


@pytest.fixture(scope="module")
def rec():
    return tinycrnn.Recognizer()


def _png_header_only(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 1000)
    chunk2 = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + chunk2 + iend


def test_bad_input_missing_file_is_typed(rec, tmp_path):
    with pytest.raises(ImageError, match="no such file") as ei:
        rec.recognize(str(tmp_path / "nope.png"))
    assert isinstance(ei.value, FileNotFoundError)


# Fixed bytes, so every pytest-xdist worker collects the same parameters.
NOISE = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(
    "data", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 50, NOISE],
    ids=["empty", "text", "png-signature-then-zeros", "noise"],
)
def test_bad_input_non_image_bytes(rec, data):
    with pytest.raises(ImageError):
        rec.recognize(data)


def test_bad_input_non_image_file(rec, tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is text")
    with pytest.raises(ImageError, match="notes.png"):
        rec.recognize(str(p))


@pytest.mark.parametrize("fmt", [".png", ".jpg"])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_bad_input_truncated_image(rec, fmt, frac):
    img = cv2.imread(HELLO)
    data = cv2.imencode(fmt, img)[1].tobytes()
    with pytest.raises(ImageError, match="truncated|decodable"):
        rec.recognize(data[: int(len(data) * frac)])


def test_bad_input_decompression_bomb_refused_before_decoding(rec):
    with pytest.raises(ImageError, match="30000x30000"):
        rec.recognize(_png_header_only(30000, 30000))


def test_bad_input_zero_size(rec):
    with pytest.raises(ImageError, match="zero size|empty"):
        rec.recognize(_png_header_only(0, 10))
    with pytest.raises(ImageError, match="empty"):
        rec.recognize(np.zeros((0, 10), np.uint8))


def test_bad_input_sixteen_bit_and_four_channel_files_are_read(rec, tmp_path):
    img = cv2.imread(HELLO)
    p16 = str(tmp_path / "hello16.png")
    cv2.imwrite(p16, img.astype(np.uint16) * 257)
    p4 = str(tmp_path / "hello4.png")
    cv2.imwrite(p4, cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    assert rec.recognize(p16).text == "Hello World"
    assert rec.recognize(p4).text == "Hello World"


def test_bad_input_transparent_png_composited_on_white(rec, tmp_path):
    gray = cv2.imread(HELLO, cv2.IMREAD_GRAYSCALE)
    bgra = np.zeros(gray.shape + (4,), np.uint8)
    bgra[..., 3] = 255 - gray  # black text, fully transparent background with black RGB
    p = str(tmp_path / "alpha.png")
    cv2.imwrite(p, bgra)
    assert rec.recognize(p).text == "Hello World"


@pytest.mark.parametrize("arr,exc", [
    (np.zeros((10, 20), np.float32), InputTypeError),
    (np.zeros((10, 20, 2), np.uint8), InputTypeError),
    (np.zeros((10, 20, 5), np.uint8), InputTypeError),
    (np.zeros((2, 10, 20, 3), np.uint8), InputTypeError),
    (np.zeros(20, np.uint8), InputTypeError),
    (b"", ImageError),
])
def test_bad_input_wrong_arrays(rec, arr, exc):
    with pytest.raises(exc):
        rec.recognize(arr)


def test_bad_input_wrong_type(rec):
    with pytest.raises(InputTypeError):
        rec.recognize(12345)
    with pytest.raises(InputTypeError):
        rec.recognize_batch(HELLO)


def test_bad_input_extreme_aspect_ratios(rec):
    assert isinstance(rec.recognize(np.full((1, 1), 255, np.uint8)).text, str)
    assert isinstance(rec.recognize(np.full((300, 2), 255, np.uint8)).text, str)
    with pytest.raises(ImageError, match="longer than thick"):
        rec.recognize(np.full((2, 5000), 255, np.uint8))


def test_bad_input_gigantic_array_refused(rec):
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(10000, 10000), strides=(0, 0))
    with pytest.raises(ImageError, match="limit"):
        tinycrnn.Recognizer(max_pixels=1_000_000).recognize(cv2.imencode(".png", big[:1100, :1000])[1].tobytes())
    with pytest.raises(ImageError, match="limit"):
        load_image(cv2.imencode(".png", big[:2000, :2000])[1].tobytes(), "gray", max_pixels=1_000_000)


@pytest.mark.parametrize("shape", [(64, 256), (1, 1, 64), (1, 3, 64, 256), (1, 1, 32, 256), (1, 1, 64, 4), (0, 1, 64, 64)])
def test_bad_input_forward_wrong_shape(shape):
    m = tinycrnn.load_model(backend="numpy")
    with pytest.raises(InputTypeError, match=r"\[B, 1, 64, W>=8\]"):
        m.forward(np.zeros(shape, np.float32))


def test_bad_input_forward_wrong_type():
    m = tinycrnn.load_model(backend="numpy")
    with pytest.raises(InputTypeError):
        m.forward([[1.0]])
    with pytest.raises(InputTypeError, match="float32"):
        m.forward(np.zeros((1, 1, 64, 64), np.uint8))


def test_bad_input_unknown_model_lists_shipped():
    with pytest.raises(ModelNotFoundError, match="english_g2"):
        tinycrnn.load_model("klingon")
    with pytest.raises(ModelNotFoundError):
        tinycrnn.load_model("/nonexistent/model.tcrnn")


def test_bad_input_truncated_and_tampered_model_files(tmp_path):
    from tinycrnn.engine import resolve_model_path

    data = open(resolve_model_path("english_g2"), "rb").read()
    for cut in (10, 5000, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{cut}.tcrnn"
        p.write_bytes(data[:cut])
        with pytest.raises(WeightFormatError):
            tinycrnn.load_model(str(p))
    p = tmp_path / "garbage.tcrnn"
    p.write_bytes(os.urandom(2048))
    with pytest.raises(WeightFormatError):
        tinycrnn.load_model(str(p))
