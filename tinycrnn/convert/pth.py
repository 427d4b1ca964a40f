"""Read PyTorch ``torch.save`` zip checkpoints (state_dicts) into NumPy arrays, without torch.

A ``.pth`` file is a pickle, and unpickling calls whatever the file names, so ``pickle.load`` on
an untrusted checkpoint runs arbitrary code. This reader never unpickles arbitrary objects: its
unpickler admits only the globals a plain state_dict needs, maps each to an inert local stand-in
and refuses anything else before it runs. Legacy (pre-1.6, non-zip) and TorchScript files are out.
"""
import collections
import io
import math
import os
import pickle
import pickletools
import struct
import zipfile
import zlib

import numpy as np

from ..errors import UnsafeCheckpointError, WeightFormatError

__all__ = ["read_pth", "strip_prefix"]

#: A member declaring more bytes than this is refused before it is read (a modest zip-bomb
#: guard); the same bound caps the size of any single rebuilt tensor.
MAX_MEMBER_BYTES = 4 << 30

#: torch storage type -> little-endian dtype of its raw bytes. NumPy has no bfloat16, so those
#: bits are read as uint16 and widened to float32 (exactly) once the tensor is rebuilt.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}

# What zipfile raises on damaged archives: bad headers/CRC, short reads, bad seeks, undecodable
# names, bad deflate streams, unsupported compression, encrypted members.
_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, zlib.error,
               NotImplementedError, RuntimeError)


class _Inert:
    """Base of the stand-ins: a pickle may not BUILD (set state on) them."""

    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"the pickle tries to set state on a {type(self).__name__}")


class _StorageType(_Inert):
    """Stand-in for ``torch.<Name>Storage``; it only tags a persistent id."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str):
        self.name, self.dtype = name, np.dtype(dtype)


class _Storage(_Inert):
    """One loaded ``<prefix>/data/<key>`` member: a flat read-only array."""

    __slots__ = ("stype", "data")

    def __init__(self, stype: _StorageType, data: np.ndarray):
        self.stype, self.data = stype, data  # data: (numel,) stype.dtype


class _TensorRef(_Inert):
    """What ``_rebuild_tensor_v2`` returns here: the view's arguments, checked later by name."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    if not isinstance(data, _TensorRef):
        raise pickle.UnpicklingError("torch._utils._rebuild_parameter got something other than a tensor")
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


def _read_member(zf: zipfile.ZipFile, name: str, path: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise WeightFormatError(f"{path}: the archive has no member {name!r}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise WeightFormatError(f"{path}: member {name!r} declares {info.file_size} bytes, "
                                f"over the {MAX_MEMBER_BYTES}-byte limit")
    try:
        return zf.read(info)
    except _ZIP_ERRORS as exc:
        raise WeightFormatError(f"{path}: cannot read member {name!r} ({type(exc).__name__}: {exc})") from exc


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals only through ``_ALLOWED`` and storages only from the same archive."""

    def __init__(self, data: bytes, zf: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(io.BytesIO(data))
        self._zf, self._prefix, self._path = zf, prefix, path
        self._storages = {}

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED)
            raise UnsafeCheckpointError(
                f"{self._path}: the pickle references {module}.{name}, which a state_dict never needs; "
                f"refusing to unpickle it (allowed globals: {allowed})")
        return obj

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise WeightFormatError(f"{self._path}: unsupported persistent id {str(pid)[:80]}")
        _, stype, key, _location, numel = pid  # NOTE: location ('cuda:0', ...) is ignored: all loads go to the CPU
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise WeightFormatError(f"{self._path}: malformed storage reference {str(pid)[:80]}")
        storage = self._storages.get(key)
        if storage is None:
            name = f"{self._prefix}/data/{key}"
            raw = _read_member(self._zf, name, self._path)
            if len(raw) != numel * stype.dtype.itemsize:
                raise WeightFormatError(
                    f"{self._path}: storage {name!r} holds {len(raw)} bytes, but the pickle declares "
                    f"{numel} x torch.{stype.name} = {numel * stype.dtype.itemsize} bytes")
            storage = self._storages[key] = _Storage(stype, np.frombuffer(raw, dtype=stype.dtype))
        elif storage.stype is not stype or storage.data.size != numel:
            raise WeightFormatError(f"{self._path}: storage {key!r} is referenced with two different types or sizes")
        return storage


def _check_opcodes(raw: bytes, name: str, path: str) -> None:
    """Walk the opcodes first: the C unpickler allocates whatever a length field or memo index
    claims before it sees the data is short, so a few corrupt bytes could ask for gigabytes."""
    try:
        for op, arg, _pos in pickletools.genops(raw):
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and arg > len(raw):
                raise ValueError(f"memo index {arg} exceeds the pickle's {len(raw)} bytes")
    except Exception as exc:  # NOTE: genops reports damage as ValueError, UnicodeDecodeError, ...
        raise WeightFormatError(f"{path}: {name} is not a valid pickle ({type(exc).__name__}: {exc})") from exc


def _is_int_tuple(value) -> bool:
    return isinstance(value, tuple) and all(type(v) is int for v in value)


def _materialize(name: str, ref: _TensorRef, path: str) -> np.ndarray:
    """Copy the view ``ref`` describes out of its storage, after checking it stays inside."""
    where = f"{path}: tensor {name!r}"
    storage, offset, size, stride = ref.storage, ref.offset, ref.size, ref.stride
    if not isinstance(storage, _Storage):
        raise WeightFormatError(f"{where} is not backed by a storage of the archive")
    if type(offset) is not int or not _is_int_tuple(size) or not _is_int_tuple(stride) or len(size) != len(stride):
        raise WeightFormatError(f"{where} has a malformed offset/size/stride: {offset!r}, {size!r}, {stride!r}")
    if offset < 0 or any(v < 0 for v in size + stride):
        raise WeightFormatError(f"{where} has a negative offset, size or stride: {offset}, {size}, {stride}")
    flat = storage.data  # (numel,) little-endian
    count = math.prod(size)
    extent = 0 if count == 0 else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if offset + extent > flat.size:
        raise WeightFormatError(f"{where} (offset {offset}, size {size}, stride {stride}) reaches element "
                                f"{offset + extent} of a storage holding {flat.size}")
    if count * flat.itemsize > MAX_MEMBER_BYTES:
        raise WeightFormatError(f"{where} would take {count * flat.itemsize} bytes, over the limit")
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                           strides=[s * flat.itemsize for s in stride], writeable=False)
    out = np.empty(size, dtype=flat.dtype.newbyteorder("="))  # copy: contiguous, writable, native order
    out[...] = view
    if storage.stype.name == "BFloat16Storage":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _state_dict_of(obj, path: str) -> dict:
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict):
        raise WeightFormatError(f"{path}: the pickle holds a {type(obj).__name__}, not a state_dict "
                                "(a dict of name -> tensor)")
    state = {}
    for name, ref in obj.items():
        if not isinstance(name, str) or not isinstance(ref, _TensorRef):
            raise WeightFormatError(f"{path}: entry {name!r} is a {type(ref).__name__}, not a named tensor; "
                                    "only plain state_dicts are supported")
        state[name] = _materialize(name, ref, path)
    return state


def _read_archive(zf: zipfile.ZipFile, path: str) -> dict:
    names = zf.namelist()
    if len(set(names)) != len(names):
        raise WeightFormatError(f"{path}: the archive lists a member name twice")
    pkls = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pkls) != 1:
        raise WeightFormatError(f"{path}: expected one '<prefix>/data.pkl' member, found {len(pkls)}; "
                                "this is not a torch.save checkpoint (TorchScript archives are not supported)")
    prefix = pkls[0][: -len("/data.pkl")]
    if f"{prefix}/byteorder" in names:
        order = _read_member(zf, f"{prefix}/byteorder", path).decode("ascii", "replace").strip()
        if order != "little":
            raise WeightFormatError(f"{path}: byteorder is {order!r}; only 'little' checkpoints are supported")
    raw = _read_member(zf, pkls[0], path)
    _check_opcodes(raw, pkls[0], path)
    try:
        obj = _RestrictedUnpickler(raw, zf, prefix, path).load()
    except WeightFormatError:
        raise
    except Exception as exc:  # NOTE: a damaged pickle can fail with almost any builtin exception
        raise WeightFormatError(f"{path}: {pkls[0]} is not a valid state_dict pickle "
                                f"({type(exc).__name__}: {exc})") from exc
    return _state_dict_of(obj, path)


def read_pth(path) -> "dict[str, np.ndarray]":
    """Load the tensors of a PyTorch zip checkpoint without torch and without unsafe unpickling.

    Storage locations (``'cuda:0'``, ...) are ignored; views into shared storages (cuDNN's
    flattened LSTM weights) are copied out at their offsets and strides.

    Args:
        path: a ``torch.save`` file (zip format, torch >= 1.6) holding a state_dict, or a dict
            whose ``'state_dict'`` or ``'model'`` entry is one.

    Returns:
        name -> C-contiguous, writable array in native byte order, in the file's order. bfloat16
        tensors come back as float32.

    Raises:
        UnsafeCheckpointError: the pickle names a global outside the state_dict allowlist
            (nothing it names is ever called).
        WeightFormatError: the file is not a zip, is truncated or damaged, lacks a member, has a
            storage of the wrong size or a view outside its storage, or holds no state_dict.
        OSError: the file cannot be opened.

    Example:
        >>> from tinycrnn.convert.pth import read_pth, strip_prefix
        >>> state = strip_prefix(read_pth("english_g2.pth"))  # doctest: +SKIP
        >>> state["SequenceModeling.0.rnn.weight_hh_l0"].shape  # doctest: +SKIP
        (1024, 256)
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except _ZIP_ERRORS as exc:
            fh.seek(0)
            legacy = fh.read(2) == b"\x80\x02"
            hint = "; legacy (pre-1.6) torch checkpoints are not supported, re-save with torch >= 1.6" if legacy else ""
            raise WeightFormatError(f"{path}: not a zip checkpoint ({type(exc).__name__}: {exc}){hint}") from exc
        with zf:
            return _read_archive(zf, path)


def strip_prefix(state: dict, prefix: str = "module.") -> dict:
    """Drop ``prefix`` from every key, but only when every key has it (``nn.DataParallel`` saves).

    Args:
        state: name -> array, e.g. from :func:`read_pth`.
        prefix: the leading text to remove.

    Returns:
        A new dict in the same order: keys without ``prefix`` if all had it, else unchanged keys.
    """
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)
