"""The model: a model file's layer specs turned into a checked graph of ops (a chain is the simple case),
and its forward pass (``tinycrnn/graph.py`` runs it).

Loading validates the whole graph against the declared input (channels, height) so a bad or
mismatched file fails at load with the layer's name, never on the first image.
"""
import importlib.util
import os
import warnings
from typing import List, Optional, Tuple, Union

import numpy as np

from .config import kernel_backend
from .errors import InputTypeError, ModelNotFoundError, WeightFormatError
from .modelfile import ModelFile, read_model

_PROBE_WIDTH = 256
_PROBE_HEIGHT = 64
_MAX_MIN_WIDTH = 4096


class Model:
    """A loaded network: a recogniser (chain or graph), a text detector or a classifier.

    Attributes:
        name: the model's name (from its manifest, else the file stem).
        manifest: the parsed manifest (architecture, charset, preprocess, decode, provenance).
        task: ``"recognize"`` (CTC recogniser), ``"detect"`` (probability map) or ``"classify"``.
        charset: recognisers: the K output symbols; the blank is ``""`` at ``blank_index``.
        labels: classifiers: the class names (``manifest.labels``).
        channels, height: the input the network expects, ``[B, channels, height, W]``
            (``height`` is None when any height works, e.g. a detector: then H and W must be
            multiples of ``multiple``).
        min_width: the smallest W that yields at least one time step.
        backend: ``"numba"`` or ``"numpy"``.
    """

    def __init__(self, model_file: ModelFile, backend: Optional[str] = None):
        from .graph import build_graph
        from .kernels import get_kernels, int8_slow_reason

        self.path = model_file.path
        self.manifest = model_file.manifest
        arch = self.manifest["arch"]
        self.name = self.manifest.get("name") or os.path.splitext(os.path.basename(self.path))[0]
        self.task = self.manifest.get("task", "recognize")
        self.channels = arch["input"]["channels"]
        self.height = arch["input"].get("height")
        self.multiple = int(arch["input"].get("multiple", 1))
        if self.channels < 1 or (self.height is not None and self.height < 1) or self.multiple < 1:
            raise WeightFormatError(f"{self.name}: arch.input must have positive channels, height and multiple")
        self.charset: List[str] = []
        self.blank_index = 0
        if self.task == "recognize":
            cs = self.manifest["charset"]
            self.blank_index = cs["blank_index"]
            self.charset = list(cs["chars"])
            self.charset.insert(self.blank_index, "")
        self.labels: List[str] = [str(v) for v in self.manifest.get("labels", [])]
        self.backend = backend or kernel_backend()
        kernels = get_kernels(self.backend)
        slow = int8_slow_reason() if self.manifest.get("quant") and self.backend == "numba" else None
        if slow:
            warnings.warn(f"{self.name}: int8 model on {slow}; load the FP32 model instead", RuntimeWarning, stacklevel=3)
        tensors = model_file.tensors
        probe_h = self.height or -(-_PROBE_HEIGHT // self.multiple) * self.multiple
        probe: Tuple[int, ...] = (self.channels, probe_h, -(-_PROBE_WIDTH // self.multiple) * self.multiple)
        self.graph, shapes, used = build_graph(arch, tensors, probe, kernels, self.name)
        self.ops = self.graph.ops
        shape = shapes[self.graph.outputs[0]]
        self.output_kind = "probs"
        if self.task == "recognize":
            if len(shape) != 2 or shape[1] != len(self.charset):
                raise WeightFormatError(f"{self.name}: network output is {shape} per line, expected "
                                        f"(T, {len(self.charset)}) to match the charset")
            self.output_kind = self.manifest["decode"].get("output", "logits")
        elif self.task == "classify" and (len(shape) != 1 or (self.labels and shape[0] != len(self.labels))):
            raise WeightFormatError(f"{self.name}: classifier output is {shape} per item, expected "
                                    f"({len(self.labels) or 'K'},) to match manifest.labels")
        elif self.task == "detect" and (len(shape) != 3 or shape[1:] != probe[1:]):
            raise WeightFormatError(f"{self.name}: detector output is {shape} for input {probe}, expected (1, H, W)")
        unused = sorted(set(tensors) - used)
        if unused:
            raise WeightFormatError(f"{self.name}: tensors not used by any layer (tampered file?): {', '.join(unused[:5])}")
        if self.output_kind not in ("logits", "probs"):
            raise WeightFormatError(f"{self.name}: decode.output must be 'logits' or 'probs', got {self.output_kind!r}")
        self.min_width = self._find_min_width() if self.task == "recognize" else self.multiple

    def output_shape(self, width: int) -> Tuple[int, ...]:
        """Per-line output shape ``(T, K)`` for an input of ``width`` columns (no compute)."""
        shapes = self.graph.shapes((self.channels, self.height or self.multiple, width))
        return shapes[self.graph.outputs[0]]

    def _find_min_width(self) -> int:
        for w in range(1, _MAX_MIN_WIDTH + 1):
            if min(self.output_shape(w)) >= 1:
                return w
        raise WeightFormatError(f"{self.name}: no input width up to {_MAX_MIN_WIDTH} gives a non-empty output")

    def forward(self, x: np.ndarray, squeeze_width: int = 0) -> np.ndarray:
        """Run the network.

        Args:
            x: float32 ``[B, channels, height, W]`` (other float dtypes are converted), ``W >= min_width``;
                detectors: any H and W that are multiples of ``multiple``.
            squeeze_width: recognisers with squeeze-and-excitation layers (PP-OCRv2): their global means are taken
                as if every line were padded with blank (``preprocess.pad_value``) columns to this width, as
                PaddleOCR pads lines to 320 px, while only ``W`` columns are computed (:mod:`tinycrnn.ops.se`).
                0, or not wider than ``W``: the plain forward pass.

        Returns:
            float32. Recognisers: ``[B, T, K]`` logits, or probabilities when
            ``manifest.decode.output == "probs"``. Detectors: ``[B, 1, H, W]`` text probability.
            Classifiers: ``[B, K]`` probabilities over ``labels``.

        Raises:
            InputTypeError: not an array, not floating point, or the wrong shape.
        """
        if not isinstance(x, np.ndarray):
            raise InputTypeError(f"Model.forward expects a numpy array, got {type(x).__name__}")
        if not np.issubdtype(x.dtype, np.floating):
            raise InputTypeError(
                f"Model.forward expects float32 input, got {x.dtype}; preprocess images with tinycrnn.preprocess"
            )
        h = self.height if self.height is not None else f"H%{self.multiple}==0"
        w = f"W>={self.min_width}" if self.multiple == 1 else f"W%{self.multiple}==0"
        expected = f"[B, {self.channels}, {h}, {w}]"
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[0] < 1 or x.shape[3] < self.min_width:
            raise InputTypeError(f"{self.name}: forward expects {expected}, got {list(x.shape)}")
        bad_h = x.shape[2] != self.height if self.height is not None else x.shape[2] % self.multiple or x.shape[2] < 1
        if bad_h or x.shape[3] % self.multiple:
            raise InputTypeError(f"{self.name}: forward expects {expected}, got {list(x.shape)}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if squeeze_width > x.shape[3] and self.task == "recognize":
            self._find_blank_columns()
            return self.graph.run(x, int(squeeze_width))
        return self.graph.run(x)

    def _find_blank_columns(self) -> None:
        """Each squeeze-and-excitation layer's ``blank_sum``: its input's middle column when the model reads a blank
        line 256 columns wide (far enough from both edges for these models' receptive fields), summed over rows.
        Once per model; the later layers' blank columns are those of a blank line (its own gates), an approximation
        measured on pages (benchmarks/RESULTS.md)."""
        squeezes = [op for (op, _, _), s in zip(self.graph.nodes, self.graph.squeezes) if s]
        if not squeezes or squeezes[0].blank_sum is not None:
            return
        pad = float(self.manifest.get("preprocess", {}).get("pad_value", 0.0))
        seen: dict = {}
        width = max(-(-256 // self.multiple) * self.multiple, self.min_width)
        self.graph.run(np.full((1, self.channels, self.height, width), pad, np.float32), record=seen)
        for op in squeezes:
            m = seen[op.name]
            op.blank_sum = np.ascontiguousarray(m[0, :, :, m.shape[3] // 2].sum(axis=1, dtype=np.float32))

    def __repr__(self) -> str:
        if self.task != "recognize":
            return f"Model({self.name!r}, task={self.task!r}, backend={self.backend!r}, input=[B,{self.channels},H,W])"
        return f"Model({self.name!r}, backend={self.backend!r}, input=[B,{self.channels},{self.height},W], classes={len(self.charset)})"


def weights_dirs() -> List[str]:
    """Where model names are looked up, in order: each folder in ``$TINYCRNN_WEIGHTS`` (``os.pathsep``
    separated), then the installed package ``tinycrnn.weights`` (the repository's ``weights/``,
    which wheels, sdists and editable installs all carry)."""
    dirs = [d for d in os.environ.get("TINYCRNN_WEIGHTS", "").split(os.pathsep) if d]
    spec = importlib.util.find_spec("tinycrnn.weights")
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(spec.submodule_search_locations)
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


#: Short names users type, mapped to shipped files. english_g2 stays the FP32 file until the INT8
#: one meets the INT8 issue's accuracy bar (benchmarks/RESULTS.md, "INT8 and FP32 kernels").
ALIASES = {"english_g2": "english_g2", "en": "english_g2", "english_g2-fp32": "english_g2",
           "english_g2-int8": "english_g2_int8",
           "ppocrv2_zh": "ppocrv2_zh", "ppocrv2": "ppocrv2_zh", "zh": "ppocrv2_zh", "ch": "ppocrv2_zh",
           "ppocrv2_zh-fp32": "ppocrv2_zh", "ppocrv2_zh-int8": "ppocrv2_zh_int8"}


def shipped_models() -> List[str]:
    """The name of every ``.tcrnn`` file in :func:`weights_dirs`, sorted."""
    return sorted({os.path.splitext(f)[0] for d in weights_dirs() for f in os.listdir(d) if f.endswith(".tcrnn")})


def resolve_model_path(name_or_path: Union[str, os.PathLike]) -> str:
    """Turn a model name (``"english_g2"``) or a path into an existing file path."""
    s = os.fspath(name_or_path)
    if os.path.isfile(s):
        return s
    if os.sep in s or s.endswith(".tcrnn"):
        raise ModelNotFoundError(f"model file {s!r} does not exist")
    stem = ALIASES.get(s, s)
    for d in weights_dirs():
        candidate = os.path.join(d, stem + ".tcrnn")
        if os.path.isfile(candidate):
            return candidate
    raise ModelNotFoundError(
        f"no model named {s!r}; shipped models: {', '.join(shipped_models()) or 'none found'} "
        f"(searched {', '.join(weights_dirs()) or 'no weights directory'}; set TINYCRNN_WEIGHTS to add one)"
    )


def load_model(name_or_path: Union[str, os.PathLike] = "english_g2", backend: Optional[str] = None) -> Model:
    """Load a model by shipped name or file path.

    Args:
        name_or_path: a shipped model name (``"english_g2"``) or a ``.tcrnn`` path.
        backend: ``"numba"`` (default, from ``TINYCRNN_KERNELS``) or ``"numpy"`` (reference kernels).

    Returns:
        A :class:`Model`.

    Raises:
        ModelNotFoundError: unknown name or missing file.
        WeightFormatError: the file is malformed, truncated, tampered or mismatched.

    Example:
        >>> import numpy as np, tinycrnn
        >>> m = tinycrnn.load_model("english_g2")
        >>> m.forward(np.zeros((1, 1, 64, 256), np.float32)).shape
        (1, 63, 97)
    """
    if backend is not None and backend not in ("numba", "numpy"):
        raise InputTypeError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    return Model(read_model(resolve_model_path(name_or_path)), backend=backend)

