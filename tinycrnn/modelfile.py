"""Read and write ``.tcrnn`` model files: a safetensors container whose header carries a manifest.

The byte layout is safetensors (8-byte little-endian header length, JSON header, raw tensor
bytes), so generic tools can open the file; the architecture, charset, preprocessing and
decoding conventions live in one JSON string under ``__metadata__["tinycrnn"]``. Nothing here
unpickles anything, and tensors are memory-mapped, not copied. See ``docs/FORMAT.md``.
"""
import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Dict, Mapping

import numpy as np

from .errors import UnsupportedVersionError, WeightFormatError

FORMAT_NAME = "tinycrnn"
#: Bump only when the container or the meaning of an existing manifest key changes.
#: 2: graph models (layers name their ``in`` values and ``out`` value) and non-recogniser tasks
#: (``task``: ``detect`` / ``classify``). A chain recogniser is still written as version 1, so older
#: readers keep reading it.
FORMAT_VERSION = 2
TASKS = ("recognize", "detect", "classify")
#: Bump when quantisation maths (rounding, qmax, granularity) changes.
QUANT_VERSION = 1

ALIGNMENT = 64
MAX_HEADER_BYTES = 64 << 20

DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I8": np.dtype("i1"), "I32": np.dtype("<i4")}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class ModelFile:
    """A parsed model file: the manifest and read-only tensors (views into a memory map)."""

    path: str
    manifest: Dict[str, Any]
    tensors: Dict[str, np.ndarray]


def write_model(path: str, tensors: Mapping[str, np.ndarray], manifest: Mapping[str, Any]) -> None:
    """Write ``tensors`` and ``manifest`` as a ``.tcrnn`` file.

    Tensors are written widest dtype first and the header is padded with spaces to a 64-byte
    boundary, so every tensor starts at a multiple of its itemsize (memory-map friendly).

    Args:
        path: destination file; written to ``path + ".tmp"`` first, then renamed.
        tensors: name -> array (float32, float16, int8 or int32; converted to little-endian).
        manifest: the JSON-serialisable manifest; ``format`` and ``format_version`` are set here.

    Raises:
        WeightFormatError: an unsupported dtype or a non-serialisable manifest.
    """
    manifest = dict(manifest)
    manifest["format"] = FORMAT_NAME
    manifest["format_version"] = needed_version(manifest)
    arrays = {}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if dt not in DTYPE_NAMES:
            raise WeightFormatError(f"tensor {name!r}: dtype {arr.dtype} cannot be stored; use one of {sorted(DTYPES)}")
        arrays[name] = np.require(arr, dtype=dt, requirements="C")  # keeps 0-d shapes
    order = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)
    header: Dict[str, Any] = {"__metadata__": {FORMAT_NAME: json.dumps(manifest, ensure_ascii=False, sort_keys=False)}}
    offset = 0
    for name in order:
        nbytes = arrays[name].nbytes
        header[name] = {
            "dtype": DTYPE_NAMES[arrays[name].dtype],
            "shape": list(arrays[name].shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    raw = json.dumps(header, ensure_ascii=False).encode("utf-8")
    raw += b" " * ((-(8 + len(raw))) % ALIGNMENT)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in order:
            f.write(arrays[name].tobytes())
    os.replace(tmp, path)


def needed_version(manifest: Mapping[str, Any]) -> int:
    """The oldest ``format_version`` that can express ``manifest``: 1 for a chain recogniser, else 2."""
    layers = manifest.get("arch", {}).get("layers", [])
    graph = any(isinstance(layer, dict) and ("inputs" in layer or "output" in layer) for layer in layers)
    return 2 if graph or manifest.get("task", "recognize") != "recognize" or "outputs" in manifest.get("arch", {}) else 1


def read_model(path: str) -> ModelFile:
    """Open a ``.tcrnn`` file, validate its container and manifest, and memory-map its tensors.

    Checks run in this order, and the first failure is reported: header length and JSON, the
    manifest (format, version, required fields), then every tensor's dtype, shape and byte range
    (in range, no overlaps, no gaps, the buffer fully covered).

    Args:
        path: the model file.

    Returns:
        A :class:`ModelFile`; its arrays are read-only views of the mapped file.

    Raises:
        FileNotFoundError: no such file.
        UnsupportedVersionError: written by a newer tinycrnn.
        WeightFormatError: anything else wrong with the file, naming the field or tensor.

    Example:
        >>> mf = read_model("weights/english_g2.tcrnn")  # doctest: +SKIP
        >>> mf.manifest["charset"]["blank_index"]  # doctest: +SKIP
        0
    """
    where = os.path.basename(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightFormatError(f"{where}: file is {size} bytes, too short for a model header (truncated?)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise WeightFormatError(
                f"{where}: header length {n} runs past the end of the {size}-byte file (truncated or not a .tcrnn file)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightFormatError(f"{where}: header is not valid UTF-8 JSON ({exc}); not a .tcrnn file?") from None
    if not isinstance(header, dict):
        raise WeightFormatError(f"{where}: header is a JSON {type(header).__name__}, expected an object")
    manifest = _parse_manifest(where, header.pop("__metadata__", None))
    buffer_len = size - 8 - n
    entries = _check_tensor_table(where, header, buffer_len)
    if entries:
        mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n, shape=(buffer_len,))
    tensors = {}
    for name, (dt, shape, begin, end) in entries.items():
        arr = np.frombuffer(mm, dtype=dt, count=(end - begin) // dt.itemsize, offset=begin).reshape(shape)
        tensors[name] = arr
    return ModelFile(path=path, manifest=manifest, tensors=tensors)


def _parse_manifest(where: str, meta: Any) -> Dict[str, Any]:
    if not isinstance(meta, dict) or FORMAT_NAME not in meta:
        raise WeightFormatError(
            f"{where}: no tinycrnn manifest (__metadata__.{FORMAT_NAME}) in the header; "
            "a plain safetensors file? Convert it with tools/convert_weights.py"
        )
    try:
        manifest = json.loads(meta[FORMAT_NAME])
    except (TypeError, ValueError) as exc:
        raise WeightFormatError(f"{where}: manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise WeightFormatError(f"{where}: manifest.format is not {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WeightFormatError(f"{where}: manifest.format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        from ._version import __version__

        raise UnsupportedVersionError(
            f"{where}: format_version {version} is newer than this tinycrnn ({__version__}) reads (<={FORMAT_VERSION}); "
            "upgrade tinycrnn or re-export with tools/convert_weights.py"
        )
    quant = manifest.get("quant")
    if quant is not None:
        qv = quant.get("quant_version") if isinstance(quant, dict) else None
        if not isinstance(qv, int) or qv < 1:
            raise WeightFormatError(f"{where}: manifest.quant.quant_version must be a positive integer, got {qv!r}")
        if qv > QUANT_VERSION:
            raise UnsupportedVersionError(
                f"{where}: quant_version {qv} is newer than this tinycrnn reads (<={QUANT_VERSION}); upgrade tinycrnn"
            )
    task = manifest.get("task", "recognize")
    if task not in TASKS or (version < 2 and task != "recognize"):
        raise WeightFormatError(f"{where}: manifest.task {task!r} unknown for format_version {version}; known: {TASKS}")
    _require(where, manifest, "arch", dict)
    _require(where, manifest["arch"], "layers", list, "arch.")
    _require(where, manifest["arch"], "input", dict, "arch.")
    _require(where, manifest["arch"]["input"], "channels", int, "arch.input.")
    if version < 2 or manifest["arch"]["input"].get("height") is not None:
        _require(where, manifest["arch"]["input"], "height", int, "arch.input.")
    if task == "recognize":
        _require(where, manifest, "charset", dict)
        _require(where, manifest["charset"], "chars", list, "charset.")
        _require(where, manifest["charset"], "blank_index", int, "charset.")
        chars = manifest["charset"]["chars"]
        if not all(isinstance(c, str) for c in chars):
            raise WeightFormatError(f"{where}: manifest.charset.chars must be a list of strings")
        if not 0 <= manifest["charset"]["blank_index"] <= len(chars):
            raise WeightFormatError(f"{where}: manifest.charset.blank_index out of range for {len(chars)} chars")
        _require(where, manifest, "decode", dict)
    _require(where, manifest, "preprocess", dict)
    for i, layer in enumerate(manifest["arch"]["layers"]):
        if not isinstance(layer, dict) or not isinstance(layer.get("op"), str):
            raise WeightFormatError(f"{where}: manifest.arch.layers[{i}] must be an object with a string 'op'")
        if version < 2 and ("inputs" in layer or "output" in layer):
            raise WeightFormatError(f"{where}: manifest.arch.layers[{i}] names values ('inputs'/'output'), "
                                    "which needs format_version 2")
        ins, out = layer.get("inputs", []), layer.get("output", "")
        if not (isinstance(ins, list) and all(isinstance(v, str) and v for v in ins) and isinstance(out, str)):
            raise WeightFormatError(f"{where}: manifest.arch.layers[{i}]: 'inputs' must be a list of value names "
                                    "and 'output' a value name")
    return manifest


def _require(where: str, obj: Dict[str, Any], key: str, kind: type, prefix: str = "") -> None:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        found = "missing" if key not in obj else type(value).__name__
        raise WeightFormatError(f"{where}: manifest.{prefix}{key} must be a {kind.__name__}, found {found}")


def _check_tensor_table(where: str, header: Dict[str, Any], buffer_len: int):
    entries = {}
    for name, info in header.items():
        if not isinstance(info, dict):
            raise WeightFormatError(f"{where}: tensor {name!r}: entry is not an object")
        dt = DTYPES.get(info.get("dtype"))
        if dt is None:
            raise WeightFormatError(f"{where}: tensor {name!r}: dtype {info.get('dtype')!r} not supported ({sorted(DTYPES)})")
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise WeightFormatError(f"{where}: tensor {name!r}: shape {shape!r} is not a list of non-negative ints")
        offs = info.get("data_offsets")
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
            or not 0 <= offs[0] <= offs[1]
        ):
            raise WeightFormatError(f"{where}: tensor {name!r}: data_offsets {offs!r} are not [begin, end] with begin <= end")
        begin, end = offs
        if end > buffer_len:
            raise WeightFormatError(
                f"{where}: tensor {name!r}: bytes [{begin}, {end}) run past the {buffer_len}-byte data buffer (truncated file?)"
            )
        expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if end - begin != expected:
            raise WeightFormatError(
                f"{where}: tensor {name!r}: {end - begin} bytes for shape {shape} {info['dtype']} (expected {expected})"
            )
        if begin % dt.itemsize:
            raise WeightFormatError(f"{where}: tensor {name!r}: offset {begin} not aligned to its {dt.itemsize}-byte dtype")
        entries[name] = (dt, tuple(shape), begin, end)
    cursor = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != cursor:
            kind = "overlaps the previous tensor" if begin < cursor else f"leaves a gap of {begin - cursor} bytes"
            raise WeightFormatError(f"{where}: tensor {name!r}: data_offsets start at {begin}, which {kind}")
        cursor = end
    if cursor != buffer_len:
        raise WeightFormatError(f"{where}: {buffer_len - cursor} trailing bytes after the last tensor (tampered file?)")
    return entries
