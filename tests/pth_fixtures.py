"""Write genuine ``torch.save`` zip checkpoints without torch, for the .pth reader tests.

The pickler emits local placeholder classes as globals; their GLOBAL opcodes are then renamed to
the torch (or attacker) names. Protocol 2 GLOBALs are plain ``c<module>\\n<name>\\n`` text and
memo slots are numbered, not offsets, so the rename keeps the pickle valid.
"""
import collections
import io
import pickle
import zipfile

import numpy as np

#: numpy dtype -> torch storage type name (bfloat16 has no numpy dtype; see Storage.torch_type).
STORAGE_TYPES = {
    np.dtype("<f4"): "FloatStorage", np.dtype("<f8"): "DoubleStorage", np.dtype("<f2"): "HalfStorage",
    np.dtype("<i8"): "LongStorage", np.dtype("<i4"): "IntStorage", np.dtype("<i2"): "ShortStorage",
    np.dtype("i1"): "CharStorage", np.dtype("u1"): "ByteStorage", np.dtype("?"): "BoolStorage",
}

_RENAMES = {}  # pickled GLOBAL bytes of a placeholder -> GLOBAL bytes of the name it stands for


def placeholder(module: str, name: str):
    """A module-level class that pickles as GLOBAL ``module.name`` once ``rename_globals`` ran."""
    qualname = f"_g_{module.replace('.', '_')}__{name}"
    if qualname not in globals():
        cls = type(qualname, (), {"__module__": __name__, "__qualname__": qualname})
        globals()[qualname] = cls
        _RENAMES[f"c{__name__}\n{qualname}\n".encode()] = f"c{module}\n{name}\n".encode()
    return globals()[qualname]


def rename_globals(data: bytes) -> bytes:
    for old, new in _RENAMES.items():
        data = data.replace(old, new)
    return data


class Storage:
    """A flat storage; ``torch_type`` overrides the storage type the pickle names."""

    def __init__(self, data: np.ndarray, key: str, torch_type: str = None, numel: int = None):
        self.data = np.ascontiguousarray(data).reshape(-1)
        self.key = key
        self.torch_type = torch_type or STORAGE_TYPES[self.data.dtype.newbyteorder("<")]
        self.numel = self.data.size if numel is None else numel


class Tensor:
    """A view into a Storage, pickled the way torch pickles tensors."""

    def __init__(self, storage: Storage, offset: int, shape, stride=None, parameter: bool = False):
        self.storage, self.offset, self.shape = storage, offset, tuple(shape)
        self.stride = tuple(stride) if stride is not None else contiguous_strides(self.shape)
        self.parameter = parameter

    def __reduce__(self):
        args = (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict())
        rebuilt = (placeholder("torch._utils", "_rebuild_tensor_v2"), args)
        if not self.parameter:
            return rebuilt
        return placeholder("torch._utils", "_rebuild_parameter"), (_Reduced(*rebuilt), False, collections.OrderedDict())


class Call:
    """Pickles as ``module.name(*args)``: the payload of a malicious checkpoint."""

    def __init__(self, module: str, name: str, *args):
        self.target, self.args = placeholder(module, name), args

    def __reduce__(self):
        return self.target, self.args


class _Reduced:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def contiguous_strides(shape) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def tensor(array: np.ndarray, key: str) -> Tensor:
    """A tensor with its own storage."""
    array = np.asarray(array)
    return Tensor(Storage(array, key), 0, array.shape)


class _TorchPickler(pickle.Pickler):
    def __init__(self, fh, location: str):
        super().__init__(fh, protocol=2)
        self.location, self.storages = location, {}

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        self.storages[obj.key] = obj
        return ("storage", placeholder("torch", obj.torch_type), obj.key, self.location, obj.numel)


def dump_pickle(obj, location: str = "cuda:0"):
    """Returns the data.pkl bytes of ``obj`` and the storages it references (key -> Storage)."""
    fh = io.BytesIO()
    pickler = _TorchPickler(fh, location)
    pickler.dump(obj)
    return rename_globals(fh.getvalue()), pickler.storages


def checkpoint_members(obj, prefix: str = "archive", location: str = "cuda:0", byteorder=None) -> dict:
    """Member name -> bytes of the zip torch.save would write for ``obj``."""
    pkl, storages = dump_pickle(obj, location)
    members = {f"{prefix}/data.pkl": pkl}
    if byteorder is not None:
        members[f"{prefix}/byteorder"] = byteorder.encode()
    for key, storage in storages.items():
        members[f"{prefix}/data/{key}"] = storage.data.astype(storage.data.dtype.newbyteorder("<")).tobytes()
    members[f"{prefix}/version"] = b"3\n"
    return members


def write_zip(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def write_checkpoint(path, obj, **kwargs) -> None:
    write_zip(path, checkpoint_members(obj, **kwargs))
