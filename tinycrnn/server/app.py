"""The web service: a Flask app factory with the REST API and the upload page.

Imported only by ``tinycrnn serve`` (and tests); Flask is the ``serve`` extra. Every error
leaves as ``{"success": false, "error": {"code", "message"}}`` with a 4xx/5xx status; no stack
trace ever reaches a client.
"""
import copy
import logging
import os
import threading
import time
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import ImageError, InputTypeError, MissingDependencyError, TinyCRNNError
from ..image_io import declared_size, load_image
from .batcher import BatchedModel, MicroBatcher, Overloaded

try:
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("the web service needs Flask: pip install 'tinycrnn[serve]'") from exc

log = logging.getLogger("tinycrnn")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

#: magic bytes -> format name, for formats the decoder reads
SUPPORTED = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", b"BM": "bmp", b"II*\x00": "tiff", b"MM\x00*": "tiff"}
#: recognisable formats that are not supported
UNSUPPORTED = {b"GIF8": "gif", b"%PDF": "pdf", b"PK\x03\x04": "zip", b"<svg": "svg", b"<?xml": "xml"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def sniff_format(data: bytes) -> Optional[str]:
    """The image format named by ``data``'s magic bytes; ``"unsupported:<fmt>"`` or None if unknown."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, name in SUPPORTED.items():
        if data.startswith(magic):
            return name
    head = data[:64].lstrip()
    for magic, name in UNSUPPORTED.items():
        if head.startswith(magic):
            return "unsupported:" + name
    return None


def create_app(
    model: Optional[str] = None,
    *,
    max_bytes: int = 20 << 20,
    max_pixels: int = 40_000_000,
    max_batch: int = 16,
    max_wait_ms: float = 5.0,
    max_queue: int = 512,
    backend: Optional[str] = None,
) -> "Flask":
    """Build the app with a resident model.

    Args:
        model: recogniser model name or path (default: the page pipeline's default model).
        max_bytes: upload size limit (413 above it).
        max_pixels: decoded size limit, checked from the image header first (413 above it).
        max_batch, max_wait_ms, max_queue: micro-batching knobs (see :class:`MicroBatcher`).
        backend: kernel backend (default from ``TINYCRNN_KERNELS``).
    """
    from ..page.defaults import default_recognizer
    from ..recognizer import Recognizer

    recognizer = default_recognizer(backend) if model is None else Recognizer(model, backend=backend)
    recognizer.batch_size = max_batch
    _warm_up(recognizer, backend)
    batcher = MicroBatcher(recognizer.model, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue)
    recognizer.model = BatchedModel(recognizer.model, batcher)
    page = _page_reader(backend)
    app = Flask("tinycrnn", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.extensions["tinycrnn"] = {"recognizer": recognizer, "batcher": batcher, "started": time.time(),
                                  "max_bytes": max_bytes, "max_pixels": max_pixels}

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        resp = jsonify({"success": False, "error": {"code": err.code, "message": err.message}})
        resp.status_code = err.status
        resp.headers.update(err.headers)
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(err.code or 500, "http_error")
        msg = f"upload exceeds the {max_bytes}-byte limit" if err.code == 413 else err.description
        return _api_error(ApiError(err.code or 500, code, msg))

    @app.errorhandler(Exception)
    def _internal(err: Exception):
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _api_error(ApiError(500, "internal_error", "internal server error; see the server log"))

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(STATIC, name)

    @app.get("/api/health")
    def health():
        m = recognizer.model
        return jsonify({"status": "ok", "model": m.name, "backend": m.backend, "page_mode": page is not None,
                        "uptime_s": round(time.time() - app.extensions["tinycrnn"]["started"], 1),
                        "queue_lines": batcher.pending_lines, "batching": dict(batcher.stats)})

    @app.get("/api/openapi.json")
    def openapi():
        from .openapi import openapi_document

        return jsonify(openapi_document(max_bytes, max_pixels, page is not None))

    @app.post("/api/ocr")
    def ocr():
        t0 = time.perf_counter()
        data = _read_upload()
        fmt = sniff_format(data)
        if fmt is None:
            raise ApiError(400, "not_an_image", "the upload is not a PNG, JPEG, BMP, WebP or TIFF image")
        if fmt.startswith("unsupported:"):
            raise ApiError(415, "unsupported_media_type",
                           f"{fmt.split(':')[1].upper()} is not supported; send PNG, JPEG, BMP, WebP or TIFF")
        size = declared_size(data)
        if size is not None and size[0] * size[1] > max_pixels:
            raise ApiError(413, "too_many_pixels",
                           f"image declares {size[0]}x{size[1]} pixels, over the limit of {max_pixels}")
        opts = _options("page" if page is not None else "line")
        color = "bgr" if page is not None and opts["mode"] == "page" else recognizer.spec.color
        try:
            img = load_image(data, color, max_pixels=max_pixels)
        except ImageError as exc:
            status, code = (413, "too_many_pixels") if "limit" in str(exc) else (400, "bad_image")
            raise ApiError(status, code, str(exc)) from None
        try:
            if opts["mode"] == "page":
                if page is None:
                    raise ApiError(400, "bad_option", "page mode is not available in this build; use mode=line")
                lines = page(_with_options(recognizer, opts["decode"]), img, opts["detector"])
            else:
                lines = _read_line(img, opts)
        except Overloaded as exc:
            raise ApiError(503, "overloaded", str(exc), {"Retry-After": "1"}) from None
        except (ImageError, InputTypeError) as exc:
            raise ApiError(400, "bad_image", str(exc)) from None
        except TinyCRNNError as exc:
            raise ApiError(400, "bad_option", str(exc)) from None
        lines = [ln for ln in lines if ln["confidence"] >= opts["min_confidence"]]
        return jsonify({"success": True, "text": lines, "total_time_ms": round((time.perf_counter() - t0) * 1000, 1)})

    def _read_line(img: np.ndarray, opts: Dict[str, Any]) -> List[Dict[str, Any]]:
        from ..page.words import line_page

        probs = recognizer.probabilities([img])[0]
        res = recognizer.decode(probs, **opts["decode"])
        h, w = img.shape[:2]
        words = [wd.to_dict() for ln in line_page(recognizer, img, res, probs.shape[0]).lines for wd in ln.words]
        return [{"text": res.text, "confidence": round(res.confidence, 6),
                 "box": [[0, 0], [w, 0], [w, h], [0, h]], "words": words}]

    return app


def _read_upload() -> bytes:
    if request.content_length is not None and request.content_length == 0:
        raise ApiError(400, "empty_body", "the request body is empty; send an image")
    ctype = request.mimetype or ""
    if ctype.startswith("multipart/form-data"):
        f = request.files.get("image")
        if f is None:
            got = ", ".join(sorted(request.files)) or "none"
            raise ApiError(400, "missing_field", f"multipart field 'image' is missing (got fields: {got})")
        data = f.read()
    else:
        data = request.get_data(cache=False)
        if ctype and not (ctype.startswith("image/") or ctype == "application/octet-stream"):
            raise ApiError(415, "unsupported_media_type",
                           f"content type {ctype!r}: send an image body or multipart/form-data with field 'image'")
    if not data:
        raise ApiError(400, "empty_body", "the uploaded image is empty")
    return data


def _options(default_mode: str) -> Dict[str, Any]:
    src = {**request.args.to_dict(), **request.form.to_dict()}
    mode = src.get("mode", default_mode)
    if mode not in ("page", "line"):
        raise ApiError(400, "bad_option", f"mode must be 'page' or 'line', got {mode!r}")
    try:
        min_conf = float(src.get("min_confidence", 0.0))
    except ValueError:
        raise ApiError(400, "bad_option", "min_confidence must be a number") from None
    decode: Dict[str, Any] = {}
    decoder = src.get("decoder", "greedy")
    if decoder not in ("greedy", "beam"):
        raise ApiError(400, "bad_option", f"decoder must be 'greedy' or 'beam', got {decoder!r}")
    if decoder == "beam":
        decode["decoder"] = "beam"
    if "beam_width" in src:
        try:
            decode["beam_width"] = int(src["beam_width"])
        except ValueError:
            raise ApiError(400, "bad_option", "beam_width must be an integer") from None
        decode.setdefault("decoder", "beam")
    for key in ("allowlist", "blocklist"):
        if src.get(key):
            decode[key] = src[key]
    detector = src.get("detector", "auto")
    if detector not in ("auto", "db", "lines"):
        raise ApiError(400, "bad_option", f"detector must be 'auto', 'db' or 'lines', got {detector!r}")
    if detector == "db":
        from ..page.choose import db_installed

        if not db_installed():
            raise ApiError(400, "bad_option", "detector 'db' needs the models ppocrv4_det and ppocr_cls, not installed")
    return {"mode": mode, "min_confidence": min_conf, "decode": decode, "detector": detector}


def _with_options(recognizer, decode: Dict[str, Any]):
    """A per-request view of the resident recognizer with its own decoder options (shares the model)."""
    if not decode:
        return recognizer
    view = copy.copy(recognizer)
    view.decode_options = recognizer._compile_lexicon({**recognizer.decode_options, **decode})
    return view


def _warm_up(recognizer, backend: Optional[str]) -> None:
    """Compile (or load from the cache) every kernel requests can reach, for the served model and the
    page pipeline's case model, so no request waits for Numba (``tinycrnn.warmup``)."""
    from ..page.pipeline import OCR
    from ..warmup import warm_recognizer

    for rec in (recognizer, OCR(model=recognizer, backend=backend).case_reader()):
        if rec is not None:
            w = warm_recognizer(rec)
            log.info("warmed %s: %d kernels compiled in %.1f s", w.model, w.compiled, w.seconds)


def _page_reader(backend: Optional[str] = None):
    """``read(recognizer, bgr_image) -> lines`` through the page pipeline, or None without one."""
    try:
        from ..page.pipeline import OCR
    except ImportError:  # pragma: no cover - the page package ships with tinycrnn
        return None

    from ..page.choose import make_detector

    detectors: Dict[str, Any] = {}  # one per name for the server's life: the DB models load once, not per request
    lock = threading.Lock()

    def read(recognizer, img: np.ndarray, detector: str = "auto") -> List[Dict[str, Any]]:
        with lock:
            if detector not in detectors:
                detectors[detector] = make_detector(detector, backend)
        ocr = OCR(model=recognizer, backend=backend, detector=detectors[detector])
        return [line.to_dict() for line in ocr.read(img).lines]

    return read
