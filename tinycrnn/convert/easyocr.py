"""Map an EasyOCR VGG-CRNN state_dict (e.g. ``english_g2.pth``) to tinycrnn tensors and layer specs.

BatchNorm is folded into the preceding bias-free conv here, both LSTM biases are pre-summed,
and every other tensor keeps its float32 values. Inputs are plain numpy arrays: the pickle
has already been read by :mod:`tinycrnn.convert.pth`.
"""
from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import WeightFormatError

BN_EPS = 1e-5

#: english_g2's 96 symbols; class i > 0 is CHARSET[i - 1], class 0 is the CTC blank.
ENGLISH_G2_CHARSET = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# EasyOCR's VGG_FeatureExtractor, by ConvNet index: (kind, params)
_TRUNK: List[Tuple[str, Dict[str, Any]]] = [
    ("conv", {"idx": 0, "k": 3, "p": 1}),
    ("pool", {"k": [2, 2], "s": [2, 2]}),
    ("conv", {"idx": 3, "k": 3, "p": 1}),
    ("pool", {"k": [2, 2], "s": [2, 2]}),
    ("conv", {"idx": 6, "k": 3, "p": 1}),
    ("conv", {"idx": 8, "k": 3, "p": 1}),
    ("pool", {"k": [2, 1], "s": [2, 1]}),
    ("conv", {"idx": 11, "k": 3, "p": 1, "bn": 12}),
    ("conv", {"idx": 14, "k": 3, "p": 1, "bn": 15}),
    ("pool", {"k": [2, 1], "s": [2, 1]}),
    ("conv", {"idx": 18, "k": 2, "p": 0}),
]


def fold_batchnorm(weight, bias, gamma, beta, mean, var, eps=BN_EPS):
    """Fold inference BatchNorm into the preceding conv: ``W' = W*s``, ``b' = (b - mean)*s + beta``."""
    s = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    w = (weight.astype(np.float64) * s[:, None, None, None]).astype(np.float32)
    b0 = np.zeros_like(s) if bias is None else bias.astype(np.float64)
    return w, ((b0 - mean.astype(np.float64)) * s + beta.astype(np.float64)).astype(np.float32)


def _get(state, key, ndim=None):
    if key not in state:
        raise WeightFormatError(f"checkpoint has no tensor {key!r}; not an EasyOCR VGG CRNN?")
    arr = np.asarray(state[key])
    if ndim is not None and arr.ndim != ndim:
        raise WeightFormatError(f"checkpoint tensor {key!r} has shape {arr.shape}, expected {ndim} dims")
    return arr


def convert_easyocr_vgg(state: Dict[str, np.ndarray]) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """Convert an EasyOCR VGG CRNN state_dict (``module.`` already stripped).

    Returns:
        ``(tensors, arch)``: float32 tensors named per ``docs/FORMAT.md`` and the ``arch`` manifest block.

    Raises:
        WeightFormatError: a tensor is missing or has an unexpected shape.
    """
    tensors: Dict[str, np.ndarray] = {}
    layers: List[Dict[str, Any]] = []
    fe = "FeatureExtraction.ConvNet."
    in_ch = _get(state, fe + "0.weight", 4).shape[1]
    for kind, prm in _TRUNK:
        if kind == "pool":
            layers.append({"op": "maxpool2d", "k": prm["k"], "s": prm["s"], "p": [0, 0]})
            continue
        idx = prm["idx"]
        w = _get(state, f"{fe}{idx}.weight", 4)
        b = state.get(f"{fe}{idx}.bias")
        name = f"cnn.{idx}"
        spec = {"op": "conv2d", "name": name, "out": int(w.shape[0]), "k": [prm["k"]] * 2, "s": [1, 1],
                "p": [prm["p"]] * 2, "groups": 1, "act": "relu"}
        if "bn" in prm:
            bn = f"{fe}{prm['bn']}."
            w, b = fold_batchnorm(w, b, *(_get(state, bn + k, 1) for k in ("weight", "bias", "running_mean", "running_var")))
            spec["bn"] = "folded"
        tensors[name + ".weight"] = w.astype(np.float32)
        tensors[name + ".bias"] = (np.zeros(w.shape[0], np.float32) if b is None else np.asarray(b, np.float32))
        layers.append(spec)
    layers.append({"op": "mean_height"})
    for blk in (0, 1):
        sm = f"SequenceModeling.{blk}."
        name = f"rnn.{blk}"
        hidden = int(_get(state, sm + "rnn.weight_hh_l0", 2).shape[1])
        for d, suffix in (("fwd", ""), ("bwd", "_reverse")):
            tensors[f"{name}.{d}.w_ih"] = _get(state, f"{sm}rnn.weight_ih_l0{suffix}", 2).astype(np.float32)
            tensors[f"{name}.{d}.w_hh"] = _get(state, f"{sm}rnn.weight_hh_l0{suffix}", 2).astype(np.float32)
            tensors[f"{name}.{d}.b"] = (
                _get(state, f"{sm}rnn.bias_ih_l0{suffix}", 1).astype(np.float32)
                + _get(state, f"{sm}rnn.bias_hh_l0{suffix}", 1).astype(np.float32)
            )
        layers.append({"op": "bilstm", "name": name, "hidden": hidden, "gate_order": "ifgo"})
        lw = _get(state, sm + "linear.weight", 2)
        tensors[f"{name}.proj.weight"] = lw.astype(np.float32)
        tensors[f"{name}.proj.bias"] = _get(state, sm + "linear.bias", 1).astype(np.float32)
        layers.append({"op": "linear", "name": f"{name}.proj", "out": int(lw.shape[0])})
    hw = _get(state, "Prediction.weight", 2)
    tensors["head.weight"] = hw.astype(np.float32)
    tensors["head.bias"] = _get(state, "Prediction.bias", 1).astype(np.float32)
    layers.append({"op": "linear", "name": "head", "out": int(hw.shape[0])})
    arch = {"name": "crnn_vgg", "input": {"channels": int(in_ch), "height": 64}, "layers": layers}
    return tensors, arch


def english_g2_manifest_extras() -> Dict[str, Any]:
    """Charset, preprocessing and decoding conventions of EasyOCR's english_g2 (see its model doc)."""
    return {
        "charset": {"blank_index": 0, "chars": list(ENGLISH_G2_CHARSET)},
        "preprocess": {
            "color": "gray",
            "height": 64,
            "resize": "bilinear_trunc",
            "width_rule": "ceil_ratio_x_height",
            "pad": "repeat_last_column",
            "tall": "easyocr",
            "scale": 1.0 / 255.0,
            "mean": 0.5,
            "std": 0.5,
        },
        "decode": {"output": "logits", "method": "greedy", "confidence": "prod_max_prob_pow_2_over_sqrt_n"},
    }
