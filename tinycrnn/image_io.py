"""Turn what users pass (a path, encoded bytes, or a numpy array) into a checked uint8 image.

Everything is validated before the engine sees it: missing files, empty or non-image bytes,
truncated PNG/JPEG files, declared sizes over the pixel limit (checked from the header,
before decoding, so a decompression bomb is refused cheaply), zero-size images, unsupported
dtypes and channel counts. 16-bit images are scaled to 8 bits; alpha is composited over white.
"""
import os
import struct
from typing import Optional, Tuple, Union

import numpy as np

from .errors import ImageError, InputTypeError

#: Default limit on decoded pixels (width * height); callers may pass their own.
MAX_PIXELS = 64_000_000
#: Default limit on encoded bytes read from a file.
MAX_BYTES = 64 << 20

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]


class ImageNotFoundError(ImageError, FileNotFoundError):
    """The image path does not exist."""


def _png_info(data: bytes) -> Optional[Tuple[int, int, int]]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33 and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return w, h, data[25]
    return None


def _jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seg_len
    return None


def declared_size(data: bytes) -> Optional[Tuple[int, int]]:
    """Width and height declared in a PNG, JPEG, BMP, GIF or WebP header, without decoding; None if unknown."""
    png = _png_info(data)
    if png:
        return png[0], png[1]
    jpg = _jpeg_size(data)
    if jpg:
        return jpg
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        if data[12:16] == b"VP8X":
            w = 1 + int.from_bytes(data[24:27], "little")
            h = 1 + int.from_bytes(data[27:30], "little")
            return w, h
        if data[12:16] == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if data[12:16] == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _check_truncated(data: bytes) -> None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        raise ImageError("PNG data is truncated (no IEND chunk at the end)")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-16:]:
        raise ImageError("JPEG data is truncated (no end-of-image marker)")


def decode_image(data: bytes, color: str = "bgr", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes to uint8 gray (H, W) or BGR (H, W, 3).

    Args:
        data: the encoded file contents (PNG, JPEG, BMP, WebP, TIFF, ...).
        color: ``"gray"`` or ``"bgr"``: the layout to return. Gray uses the decoder's own
            conversion (OpenCV ``IMREAD_GRAYSCALE``), as EasyOCR does.
        max_pixels: refuse images whose declared or decoded width*height exceeds this.

    Raises:
        ImageError: empty, not an image, truncated, corrupt or too large.
    """
    import cv2

    if len(data) == 0:
        raise ImageError("image data is empty (0 bytes)")
    size = declared_size(data)
    if size is not None:
        w, h = size
        if w == 0 or h == 0:
            raise ImageError(f"image declares a zero size ({w}x{h} pixels)")
        if w * h > max_pixels:
            raise ImageError(f"image declares {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
    _check_truncated(data)
    buf = np.frombuffer(data, np.uint8)
    png = _png_info(data)
    has_alpha = png is not None and png[2] in (4, 6)
    if has_alpha:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError("data is not a decodable image (corrupt, truncated, or an unsupported format)")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageError(f"image is {img.shape[1]}x{img.shape[0]} pixels, over the limit of {max_pixels}")
    return normalize_array(img, color) if has_alpha else _check_size(img)


def _check_size(img: np.ndarray) -> np.ndarray:
    if img.size == 0 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageError(f"image is empty (shape {img.shape})")
    return img


def normalize_array(img: np.ndarray, color: str = "bgr") -> np.ndarray:
    """Validate a numpy image and convert it to uint8 gray (H, W) or BGR (H, W, 3).

    Accepts uint8 or uint16 arrays shaped (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA
    (alpha composited over white).

    Raises:
        InputTypeError: wrong dtype or number of dimensions/channels.
        ImageError: an empty image.
    """
    if not isinstance(img, np.ndarray):
        raise InputTypeError(f"expected a numpy array, got {type(img).__name__}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise InputTypeError(
            f"image array has dtype {img.dtype}; pass uint8 (e.g. (x * 255).clip(0, 255).astype(np.uint8))"
        )
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise InputTypeError(
            f"image array has shape {img.shape}; expected (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA"
        )
    _check_size(img)
    import cv2

    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        img = (img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    img = np.ascontiguousarray(img)
    if color == "gray" and img.ndim == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if color == "bgr" and img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return img


def load_image(src: ImageSource, color: str = "bgr", max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Load an image from a path, encoded bytes, or a numpy array as uint8 gray or BGR.

    Args:
        src: a file path, the bytes of an encoded image, or a uint8/uint16 array (gray/BGR/BGRA).
        color: ``"gray"`` or ``"bgr"``.
        max_pixels: pixel limit (declared and decoded).
        max_bytes: file size limit for paths.

    Returns:
        uint8 (H, W) for gray, (H, W, 3) for BGR.

    Raises:
        ImageNotFoundError: the path does not exist.
        ImageError: unreadable, corrupt, truncated, empty or too large.
        InputTypeError: an unsupported type, dtype or shape.
    """
    if color not in ("gray", "bgr"):
        raise InputTypeError(f"color must be 'gray' or 'bgr', got {color!r}")
    if isinstance(src, np.ndarray):
        return normalize_array(src, color)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return decode_image(bytes(src), color, max_pixels)
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        if not os.path.exists(path):
            raise ImageNotFoundError(f"{path}: no such file")
        if os.path.isdir(path):
            raise ImageError(f"{path}: is a directory, not an image")
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ImageError(f"{path}: {size} bytes, over the {max_bytes}-byte limit")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ImageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        try:
            return decode_image(data, color, max_pixels)
        except ImageError as exc:
            raise ImageError(f"{path}: {exc}") from None
    raise InputTypeError(f"cannot read an image from {type(src).__name__}; pass a path, bytes or a numpy array")
