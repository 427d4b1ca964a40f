"""Checkpoint -> ``.tcrnn``: pick the reader for the source format, map tensors, write the manifest.

Conversion-time code only; ``import tinycrnn`` never imports it.
"""
import hashlib
import os
from typing import Any, Dict, Optional, Sequence

from .._version import __version__
from ..errors import WeightFormatError
from ..modelfile import write_model


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


EASYOCR_ATTRIBUTION = "EasyOCR by JaidedAI (https://github.com/JaidedAI/EasyOCR), Apache-2.0"


def convert_checkpoint(
    src: str,
    dst: str,
    name: Optional[str] = None,
    license_name: str = "Apache-2.0",
    attribution: Optional[str] = None,
    charset: Optional[str] = None,
    preset: Optional[str] = None,
    height: Optional[int] = None,
    right_margin: Optional[int] = None,
    merge_linears: str = "auto",
    int8: bool = False,
    calibration: Optional[str] = None,
    weight_rounding: str = "nearest",
    fp32_layers: Sequence[str] = (),
    signed_pointwise: bool = False,
) -> Dict[str, Any]:
    """Convert ``src`` (an EasyOCR ``.pth`` or an ONNX recogniser) into the model file ``dst``.

    Args:
        src: the source checkpoint.
        dst: the ``.tcrnn`` file to write.
        name: model name recorded in the manifest (default: the source file stem).
        license_name: the licence recorded under ``producer.license``.
        attribution: who made the weights, recorded under ``producer.attribution``
            (default: the preset's).
        charset: ONNX only: a one-symbol-per-line key file (PaddleOCR ``ppocr_keys_v1.txt``).
        preset: ONNX only: the conventions to record, ``"ppocr"`` or ``"easyocr"`` (default:
            ``ppocr`` for PaddlePaddle exports or when ``charset`` is given, else ``easyocr``);
            ``"ppocr_det"`` / ``"ppocr_cls"``: a PaddleOCR DB detector / orientation classifier,
            imported as a graph model (``onnx_graph.py``, format_version 2).
        height: ONNX only: input height when the graph's is dynamic (default: the preset's).
        right_margin: ``ppocr`` only: zero columns appended after each line (default 64).
        merge_linears: ONNX only: ``auto`` / ``always`` / ``never`` (see ``onnx_import.merge_linears``).
        int8: quantise matrices to int8 and calibrate activations (:mod:`.quantize`); the
            manifest's ``quant.worst_weight_error`` names the worst-quantised tensor.
        calibration: ``int8`` only: a directory of line images (default: built-in rendered lines).
        weight_rounding: ``int8`` only: ``"nearest"``, ``"mse"`` or ``"gptq"`` (:func:`.quantize.quantize_model`).
        fp32_layers: ``int8`` only: names of layers to leave in FP32.
        signed_pointwise: ``int8`` only: also quantise pointwise convs whose inputs can be negative
            (PP-OCR's follow HardSwish), with per-pixel int8 inputs (:func:`.quantize.quantize_model`).

    Returns:
        The manifest that was written.

    Raises:
        WeightFormatError: unreadable, unsafe or unrecognised checkpoint.
    """
    ext = os.path.splitext(src)[1].lower()
    if ext in (".pth", ".pt"):
        from .easyocr import convert_easyocr_vgg, english_g2_manifest_extras
        from .pth import read_pth, strip_prefix

        state = strip_prefix(read_pth(src))
        tensors, arch = convert_easyocr_vgg(state)
        extras = english_g2_manifest_extras()
        attribution = attribution or EASYOCR_ATTRIBUTION
    elif ext == ".onnx":
        tensors, arch, extras, default_attribution = _convert_onnx(src, charset, preset, height, right_margin, merge_linears)
        attribution = attribution or default_attribution
    else:
        raise WeightFormatError(f"{src}: unsupported checkpoint type {ext!r}; expected a PyTorch .pth or an .onnx file")
    manifest: Dict[str, Any] = {
        "name": name or os.path.splitext(os.path.basename(src))[0],
        "producer": {
            "tool": "tools/convert_weights.py",
            "tinycrnn": __version__,
            "source": os.path.basename(src),
            "source_sha256": sha256_of(src),
            "license": license_name,
            "attribution": attribution,
        },
        "arch": arch,
        **extras,
    }
    if int8:
        from .quantize import calibration_images, quantize_model

        images, source = calibration_images(calibration)
        tensors, manifest, _ = quantize_model(tensors, manifest, images, source, keep_fp32=fp32_layers,
                                              weight_rounding=weight_rounding, signed_pointwise=signed_pointwise)
    write_model(dst, tensors, manifest)
    return manifest


def _convert_onnx(src, charset, preset, height, right_margin, merge):
    from .onnx_import import onnx_to_layers, load_onnx

    if preset is None:
        preset = "ppocr" if charset or load_onnx(src).producer_name == "PaddlePaddle" else "easyocr"
    if preset in ("ppocr_det", "ppocr_cls"):
        from .onnx_import import onnx_to_graph
        from .ppocr_det_cls import PADDLE_DET_CLS_ATTRIBUTION, cls_manifest_extras, det_manifest_extras

        tensors, arch, _ = onnx_to_graph(src)
        if preset == "ppocr_det":
            arch.update(name="db_pplcnetv3_rsefpn")
            arch["input"].update(height=None, multiple=32)
            return tensors, arch, det_manifest_extras(), PADDLE_DET_CLS_ATTRIBUTION
        arch.update(name="mobilenetv3_small_cls")
        arch["input"].update(height=48)
        return tensors, arch, cls_manifest_extras(), PADDLE_DET_CLS_ATTRIBUTION
    if preset == "ppocr":
        from .ppocr import DEFAULT_RIGHT_MARGIN, PADDLE_ATTRIBUTION, ppocr_manifest_extras

        if not charset:
            raise WeightFormatError(f"{src}: a PaddleOCR model needs its key file: pass --charset ppocr_keys_v1.txt")
        tensors, arch, info = onnx_to_layers(src, height=height or 32, merge=merge)
        margin = DEFAULT_RIGHT_MARGIN if right_margin is None else right_margin
        extras = ppocr_manifest_extras(charset, arch["input"]["height"], info["softmax"], margin)
        arch["name"] = "ppocr_mobilenetv1e_crnn"
        attribution = PADDLE_ATTRIBUTION
    elif preset == "easyocr":
        from .easyocr import english_g2_manifest_extras

        if charset:
            raise WeightFormatError("--charset is for PaddleOCR models; EasyOCR english_g2's charset is built in")
        tensors, arch, info = onnx_to_layers(src, height=height or 64, merge=merge)
        extras = english_g2_manifest_extras()
        if info["softmax"]:
            extras["decode"]["output"] = "probs"
        arch["name"] = "crnn_vgg"
        attribution = EASYOCR_ATTRIBUTION
    else:
        raise WeightFormatError(f"unknown preset {preset!r}; use 'ppocr', 'easyocr', 'ppocr_det' or 'ppocr_cls'")
    n_classes = len(extras["charset"]["chars"]) + 1
    if info["classes"] != n_classes:
        raise WeightFormatError(
            f"{src}: the network outputs {info['classes']} classes but the charset gives {n_classes} (blank included); "
            "wrong key file or preset?"
        )
    return tensors, arch, extras, attribution
