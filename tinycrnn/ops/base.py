"""The op protocol (after ncnn's load_param / load_model / forward phases).

An op is built once from its layer spec and tensors, checking every parameter and tensor
shape against the shape flowing in (so a bad file fails at load, not on the first image),
then called on batches. Shapes exclude the batch axis: ``(C, H, W)`` for images,
``(T, F)`` for sequences and ``(F,)`` for feature vectors.
"""
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ..errors import WeightFormatError

Shape = Tuple[int, ...]


class Op:
    kind = "op"
    #: True for ops reading several values (add, concat): they get a list of shapes and are called
    #: as ``op(*arrays)``; single-input ops get one shape and are called as ``op(array)``.
    multi_input = False

    def __init__(self, spec: Mapping[str, Any], tensors: Mapping[str, np.ndarray], in_shape: Shape, kernels):
        self.spec = dict(spec)
        self.name = spec.get("name", self.kind)
        self.kernels = kernels
        self.used = set()
        self.build(tensors, in_shape)

    def build(self, tensors, in_shape: Shape) -> None:
        """Check parameters and tensors against ``in_shape`` and keep what forward needs."""

    def out_shape(self, in_shape: Shape) -> Shape:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # helpers for build()
    def param(self, key: str, default=None, kind=None):
        value = self.spec.get(key, default)
        if value is None:
            raise WeightFormatError(f"layer {self.name!r} ({self.kind}): missing parameter {key!r}")
        if kind == "pair":
            if isinstance(value, int) and not isinstance(value, bool):
                value = [value, value]
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v >= 0 for v in value)):
                raise WeightFormatError(f"layer {self.name!r}: {key} must be a pair of non-negative ints, got {value!r}")
            return tuple(value)
        if kind is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise WeightFormatError(f"layer {self.name!r}: {key} must be {kind.__name__}, got {value!r}")
        return value

    def tensor(self, tensors, suffix: str, shape: Shape, optional: bool = False, dtype=np.float32) -> Optional[np.ndarray]:
        key = f"{self.name}.{suffix}"
        arr = tensors.get(key)
        if arr is None:
            if optional:
                return None
            raise WeightFormatError(f"tensor {key!r} is missing (layer {self.name!r}, {self.kind})")
        if arr.dtype != dtype:
            raise WeightFormatError(f"tensor {key!r}: dtype {arr.dtype}, expected {np.dtype(dtype).name}")
        if tuple(arr.shape) != tuple(shape):
            raise WeightFormatError(f"tensor {key!r}: shape {tuple(arr.shape)}, expected {tuple(shape)}")
        self.used.add(key)
        return arr

    def check_activation(self) -> str:
        from ..kernels.ref import ACTIVATIONS

        act = self.spec.get("act", "none")
        if act not in ACTIVATIONS:
            raise WeightFormatError(f"layer {self.name!r}: activation {act!r} unknown; known: {', '.join(ACTIVATIONS)}")
        return act


def describe(spec: Dict[str, Any]) -> str:
    return f"{spec.get('op')} {spec.get('name', '')}".strip()
