"""The OpenAPI 3 description of the REST API, generated from the same limits the app enforces."""
from typing import Any, Dict


def _error(description: str) -> Dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document(max_bytes: int, max_pixels: int, page_mode: bool) -> Dict[str, Any]:
    from .._version import __version__

    options = [
        ("mode", {"type": "string", "enum": ["page", "line"], "default": "page" if page_mode else "line"},
         "page: find and read every text line; line: the image is one text line"),
        ("decoder", {"type": "string", "enum": ["greedy", "beam"], "default": "greedy"}, "CTC decoder"),
        ("beam_width", {"type": "integer", "minimum": 1}, "beam width (implies decoder=beam)"),
        ("allowlist", {"type": "string"}, "only these characters may be output"),
        ("blocklist", {"type": "string"}, "these characters are never output"),
        ("min_confidence", {"type": "number", "minimum": 0, "maximum": 1, "default": 0}, "drop lines below this"),
        ("detector", {"type": "string", "enum": ["auto", "db", "lines"], "default": "auto"},
         "page mode: db (learned, for photos), lines (classical, flat scans), auto (per page)"),
    ]
    params = [{"name": n, "in": "query", "required": False, "schema": s, "description": d} for n, s, d in options]
    form_props: Dict[str, Any] = {"image": {"type": "string", "format": "binary"}}
    form_props.update({n: s for n, s, _ in options})
    return {
        "openapi": "3.0.3",
        "info": {"title": "tinycrnn OCR API", "version": __version__,
                 "description": "Text recognition on the CPU. Uploads up to %d bytes and %d pixels." % (max_bytes, max_pixels)},
        "paths": {
            "/api/ocr": {"post": {
                "summary": "Recognise the text in an image",
                "parameters": params,
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": form_props, "required": ["image"]}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                    "image/bmp": {"schema": {"type": "string", "format": "binary"}},
                    "image/webp": {"schema": {"type": "string", "format": "binary"}},
                    "image/tiff": {"schema": {"type": "string", "format": "binary"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                }},
                "responses": {
                    "200": {"description": "recognised lines in reading order",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OcrResult"}}}},
                    "400": _error("not an image, corrupt or truncated image, empty body, missing field, bad option"),
                    "413": _error("upload too large (bytes) or too many pixels"),
                    "415": _error("unsupported media type (e.g. GIF, PDF, text/plain body)"),
                    "500": _error("internal error"),
                    "503": {**_error("overloaded; retry after the Retry-After header's seconds"),
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                }}},
            "/api/health": {"get": {"summary": "Liveness, model and batching counters",
                                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/Health"}}}}}}},
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
        },
        "components": {"schemas": {
            "Point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "Line": {"type": "object", "required": ["text", "confidence", "box"], "properties": {
                "text": {"type": "string"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "box": {"type": "array", "items": {"$ref": "#/components/schemas/Point"}, "minItems": 4, "maxItems": 4},
                "words": {"type": "array", "items": {"$ref": "#/components/schemas/Word"}}}},
            "Word": {"type": "object", "required": ["text", "confidence", "char_confidences", "box"], "properties": {
                "text": {"type": "string"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "char_confidences": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}},
                "box": {"type": "array", "items": {"$ref": "#/components/schemas/Point"}, "minItems": 4, "maxItems": 4}}},
            "OcrResult": {"type": "object", "required": ["success", "text", "total_time_ms"], "properties": {
                "success": {"type": "boolean", "enum": [True]},
                "text": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                "total_time_ms": {"type": "number"}}},
            "Error": {"type": "object", "required": ["success", "error"], "properties": {
                "success": {"type": "boolean", "enum": [False]},
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Health": {"type": "object", "required": ["status", "model", "batching"], "properties": {
                "status": {"type": "string"}, "model": {"type": "string"}, "backend": {"type": "string"},
                "page_mode": {"type": "boolean"}, "uptime_s": {"type": "number"}, "queue_lines": {"type": "integer"},
                "batching": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        }},
    }
