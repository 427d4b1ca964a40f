"""ONNX models -> tinycrnn tensors and an ``arch`` block (conversion time only; needs the ``onnx`` extra).

Entry points: :func:`onnx_to_layers` for chain recognisers (format_version 1, ``onnx_chain.py``)
and :func:`onnx_to_graph` for graphs such as DB detectors and classifiers (format_version 2,
``onnx_graph.py``). Both start from ``onnx_fold.py`` (constants folded, dead nodes dropped);
``onnx_common.py`` holds the shared plumbing.
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import WeightFormatError
from .onnx_chain import _DATA_OPS, Mapper
from .onnx_common import load_onnx, read_charset_lines
from .onnx_fold import FoldedGraph
from .onnx_graph import onnx_to_graph


def merge_linears(layers: List[Dict[str, Any]], tensors: Dict[str, np.ndarray], mode: str = "auto") -> None:
    """Merge ``linear`` pairs with no activation between them, in place.

    ``W = W2 @ W1``, ``b = W2 @ b1 + b2`` in float64. ``mode``: ``"always"``, ``"never"``, or
    ``"auto"``: only when it does not add multiply-adds (``I*O2 <= I*O1 + O1*O2``); PP-OCR's
    128->96->6625 head would grow by 30%, english_g2's 256->256->97 shrinks by 72%.
    """
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"merge mode {mode!r}")
    i = 0
    while mode != "never" and i + 1 < len(layers):
        a, b = layers[i], layers[i + 1]
        if a["op"] == b["op"] == "linear" and a.get("act", "none") == "none":
            w1, b1 = tensors[a["name"] + ".weight"].astype(np.float64), tensors[a["name"] + ".bias"].astype(np.float64)
            w2, b2 = tensors[b["name"] + ".weight"].astype(np.float64), tensors[b["name"] + ".bias"].astype(np.float64)
            n_in, mid, n_out = w1.shape[1], w1.shape[0], w2.shape[0]
            if mode == "always" or n_in * n_out <= n_in * mid + mid * n_out:
                for key in ("weight", "bias"):
                    del tensors[f"{a['name']}.{key}"]
                tensors[b["name"] + ".weight"] = (w2 @ w1).astype(np.float32)
                tensors[b["name"] + ".bias"] = (w2 @ b1 + b2).astype(np.float32)
                del layers[i]
                continue
        i += 1


def onnx_to_layers(
    path: str, height: Optional[int] = None, merge: str = "auto"
) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], Dict[str, Any]]:
    """Convert an ONNX recogniser into tinycrnn tensors and an ``arch`` block.

    Args:
        path: the ``.onnx`` file.
        height: input height, used when the graph's height is dynamic (PP-OCR: 32).
        merge: linear merging policy, see :func:`merge_linears`.

    Returns:
        ``(tensors, arch, info)``; ``info`` has ``softmax`` (the graph ends in Softmax),
        ``producer`` (the ONNX producer name), ``classes`` and ``input_name``.

    Raises:
        MissingDependencyError: the ``onnx`` package is not installed.
        WeightFormatError: unreadable file, unsupported ops (all listed, with node names) or
            an unsupported pattern (naming the node).
    """
    model = load_onnx(path)
    g = FoldedGraph(model)
    bad = [n for n in g.nodes if n.op_type not in _DATA_OPS]
    if bad:
        raise WeightFormatError(
            f"{path}: unsupported ONNX ops on the data path: "
            + ", ".join(f"{n.op_type} ({n.name or n.output[0]})" for n in bad)
            + f"; supported: {', '.join(sorted(_DATA_OPS))}"
        )
    m = Mapper(g, height)
    m.run()
    merge_linears(m.layers, m.tensors, merge)
    arch = {"name": "onnx_import", "input": {"channels": m.channels, "height": m.height}, "layers": m.layers}
    classes = m.c
    info = {"softmax": m.softmax, "producer": model.producer_name, "classes": classes, "input_name": g.input.name}
    return m.tensors, arch, info


__all__ = ["load_onnx", "merge_linears", "onnx_to_graph", "onnx_to_layers", "read_charset_lines"]
