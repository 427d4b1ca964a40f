"""Fusion passes over the graph importer's layer list (``onnx_graph.py``), then naming.

Each pass rewrites only exact identities, in float64:

- ``affine`` after a conv2d / conv_transpose2d / linear without an activation, whose output only
  the affine reads: scale the producer's output channels, ``b' = b * scale + shift``;
- two affines in a row: one;
- ``act`` after a conv2d / linear (relu, hardswish, hardsigmoid), a conv_transpose2d or an add
  (any): the producer's ``act``;
- ``upsample_nearest`` read only by add / concat: that input's ``up`` factor;
- ``add(x, se(x))`` (a DB neck's residual SE): the se layer with ``residual: true``;
- an ``affine`` left over (a scale and shift after an activation, PP-LCNetV3's "learnable affine
  blocks") whose readers are all unpadded conv2d: folded into their weights,
  ``w'[o, c] = w[o, c] * scale[c]``, ``b'[o] = b[o] + sum_c,ky,kx w[o, c, ky, kx] * shift[c]``
  (a padded conv would see zeros where the shifted input has ``shift``, so those stay ``affine``).
"""
from typing import Any, Dict, List, Tuple

import numpy as np

_CONV_ACTS = ("relu", "hardswish", "hardsigmoid")


def _readers(layers, value):
    return [l for l in layers if value in l["inputs"]]


def _rename(layers, old, new):
    for l in layers:
        l["inputs"] = [new if v == old else v for v in l["inputs"]]


def _residual_se(layers, add, output):
    """The ``se`` layer ``s`` when ``add`` computes ``x + s(x)`` and only ``add`` reads ``s``'s output."""
    a, b = add["inputs"]
    for x, y in ((a, b), (b, a)):
        se = next((p for p in layers if p["output"] == y), None)
        if se is not None and se["op"] == "se" and se["inputs"] == [x] and y != output \
                and len(_readers(layers, y)) == 1 and not se["params"].get("residual"):
            return se
    return None


def _fold_scale(producer, scale, shift):
    t = producer["tensors"]
    w = t["weight"].astype(np.float64)
    axis = 1 if producer["op"] == "conv_transpose2d" else 0
    shape = [1] * w.ndim
    shape[axis] = -1
    t["weight"] = w * scale.reshape(shape)
    t["bias"] = t["bias"].astype(np.float64) * scale + shift


def _step(layers: List[Dict[str, Any]], output: str) -> bool:
    for idx, l in enumerate(layers):
        x = l["inputs"][0] if l["inputs"] else None
        prod = next((p for p in layers if p["output"] == x), None)
        sole = prod is not None and x != output and len(_readers(layers, x)) == 1
        if l["op"] == "affine" and sole and prod["op"] in ("conv2d", "conv_transpose2d", "linear") \
                and prod["params"].get("act", "none") == "none":
            _fold_scale(prod, l["tensors"]["scale"].astype(np.float64), l["tensors"]["shift"].astype(np.float64))
        elif l["op"] == "affine" and sole and prod["op"] == "affine":
            s1, t1 = prod["tensors"]["scale"].astype(np.float64), prod["tensors"]["shift"].astype(np.float64)
            s2, t2 = l["tensors"]["scale"].astype(np.float64), l["tensors"]["shift"].astype(np.float64)
            prod["tensors"] = {"scale": s1 * s2, "shift": t1 * s2 + t2}
        elif l["op"] == "act" and sole and prod["params"].get("act", "none") == "none" and (
                prod["op"] in ("conv2d", "linear") and l["params"]["act"] in _CONV_ACTS
                or prod["op"] in ("conv_transpose2d", "add")):
            prod["params"]["act"] = l["params"]["act"]
        elif l["op"] == "add" and len(l["inputs"]) == 2 and l["params"]["up"] == [[1, 1], [1, 1]] \
                and l["params"]["act"] == "none" and _residual_se(layers, l, output) is not None:
            se = _residual_se(layers, l, output)
            se["params"]["residual"] = True
            se["output"] = l["output"]
            del layers[idx]
            return True
        elif l["op"] == "upsample_nearest" and l["output"] != output and all(
                r["op"] in ("add", "concat") for r in _readers(layers, l["output"])):
            for r in _readers(layers, l["output"]):
                for k, v in enumerate(r["inputs"]):
                    if v == l["output"]:
                        up = r["params"]["up"][k]
                        r["params"]["up"][k] = [up[0] * l["params"]["up"][0], up[1] * l["params"]["up"][1]]
            _rename(layers, l["output"], x)
            del layers[idx]
            return True
        elif l["op"] == "affine" and l["output"] != output and _readers(layers, l["output"]) and all(
                r["op"] == "conv2d" and r["params"]["p"] == [0, 0] for r in _readers(layers, l["output"])):
            scale, shift = l["tensors"]["scale"].astype(np.float64), l["tensors"]["shift"].astype(np.float64)
            for r in _readers(layers, l["output"]):
                w = r["tensors"]["weight"].astype(np.float64)
                o, cg = w.shape[:2]
                groups = r["params"]["groups"]
                cin = (np.arange(o)[:, None] // (o // groups)) * cg + np.arange(cg)[None, :]  # (O, Cg) input channel
                r["tensors"]["bias"] = r["tensors"]["bias"].astype(np.float64) + (w.sum(axis=(2, 3)) * shift[cin]).sum(1)
                r["tensors"]["weight"] = w * scale[cin][:, :, None, None]
            _rename(layers, l["output"], x)
            del layers[idx]
            return True
        else:
            continue
        # the layer was absorbed by its producer, whose output only it read: the producer now writes its value
        prod["output"] = l["output"]
        del layers[idx]
        return True
    return False


def fuse(layers: List[Dict[str, Any]], output: str) -> List[Dict[str, Any]]:
    """Apply the passes above until none applies; returns the (mutated) list."""
    while _step(layers, output):
        pass
    return layers


_PREFIX = {"conv2d": "conv", "conv_transpose2d": "upconv", "linear": "fc"}


def finish(layers: List[Dict[str, Any]], input_name: str, output: str) -> Tuple[Dict[str, np.ndarray], list, str]:
    """Name every layer (``conv.3``, ``se.1``, ``add.0``...) and the value it writes after it, the
    input ``x``; returns float32 tensors keyed ``{layer}.{tensor}``, the layer specs and the output name."""
    names = {input_name: "x"}
    counts: Dict[str, int] = {}
    tensors: Dict[str, np.ndarray] = {}
    specs = []
    for l in layers:
        prefix = _PREFIX.get(l["op"], l["op"])
        k = counts.get(prefix, 0)
        counts[prefix] = k + 1
        name = f"{prefix}.{k}"
        names[l["output"]] = name
        spec = {"op": l["op"], "name": name, "inputs": [names[v] for v in l["inputs"]], "output": name}
        spec.update(l["params"])
        for key, arr in l["tensors"].items():
            tensors[f"{name}.{key}"] = np.ascontiguousarray(arr, dtype=np.float32)
        specs.append(spec)
    return tensors, specs, names[output]
