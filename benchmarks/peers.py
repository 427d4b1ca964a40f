"""Peer engines for ``tinycrnn bench --compare``: the same .tcrnn weights run by onnxruntime,
PyTorch (CPU, FP32 and EasyOCR's dynamic int8) and OpenCV's cv2.dnn.

Bench extra only (``pip install -e '.[bench]'``); the tinycrnn package never imports this
file. The PyTorch module is rebuilt from the .tcrnn manifest and tensors, so every engine
runs exactly the weights tinycrnn runs.
"""
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_torch_crnn(tcrnn_path: str):
    """A ``torch.nn.Module`` equivalent to the .tcrnn model: [B, C, H, W] float32 -> [B, T, K] logits.

    Supports the ops of the CRNN family tinycrnn ships: conv2d, maxpool2d, mean_height,
    bilstm (i, f, g, o gates; one summed bias) and linear, with relu/hardswish/hardsigmoid.
    """
    import torch
    from torch import nn

    from tinycrnn.modelfile import read_model

    mf = read_model(tcrnn_path)
    arch, tensors = mf.manifest["arch"], mf.tensors
    acts = {"none": nn.Identity, "relu": nn.ReLU, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid}

    def t(name):
        return torch.from_numpy(np.ascontiguousarray(tensors[name], dtype=np.float32))

    class MeanHeight(nn.Module):
        def forward(self, x):  # (N, C, H, W) -> (N, W, C)
            return x.mean(dim=2).permute(0, 2, 1)

    class BiLSTM(nn.Module):
        def __init__(self, name, inp, hidden):
            super().__init__()
            self.lstm = nn.LSTM(inp, hidden, batch_first=True, bidirectional=True)
            with torch.no_grad():
                for d, suffix in (("fwd", ""), ("bwd", "_reverse")):
                    getattr(self.lstm, f"weight_ih_l0{suffix}").copy_(t(f"{name}.{d}.w_ih"))
                    getattr(self.lstm, f"weight_hh_l0{suffix}").copy_(t(f"{name}.{d}.w_hh"))
                    getattr(self.lstm, f"bias_ih_l0{suffix}").copy_(t(f"{name}.{d}.b"))
                    getattr(self.lstm, f"bias_hh_l0{suffix}").zero_()

        def forward(self, x):
            return self.lstm(x)[0]

    layers: List[nn.Module] = []
    c = arch["input"]["channels"]
    feat = None
    for spec in arch["layers"]:
        op, name = spec["op"], spec.get("name", "")
        if op == "conv2d":
            w = t(f"{name}.weight")
            conv = nn.Conv2d(c, spec["out"], tuple(spec["k"]), tuple(spec.get("s", [1, 1])), tuple(spec.get("p", [0, 0])),
                             groups=spec.get("groups", 1), bias=f"{name}.bias" in tensors)
            with torch.no_grad():
                conv.weight.copy_(w)
                if conv.bias is not None:
                    conv.bias.copy_(t(f"{name}.bias"))
            layers += [conv, acts[spec.get("act", "none")]()]
            c = spec["out"]
        elif op == "maxpool2d":
            layers.append(nn.MaxPool2d(tuple(spec["k"]), tuple(spec.get("s", spec["k"])), tuple(spec.get("p", [0, 0]))))
        elif op == "mean_height":
            layers.append(MeanHeight())
            feat = c
        elif op == "bilstm":
            layers.append(BiLSTM(name, feat, spec["hidden"]))
            feat = 2 * spec["hidden"]
        elif op == "linear":
            lin = nn.Linear(feat, spec["out"], bias=f"{name}.bias" in tensors)
            with torch.no_grad():
                lin.weight.copy_(t(f"{name}.weight"))
                if lin.bias is not None:
                    lin.bias.copy_(t(f"{name}.bias"))
            layers += [lin, acts[spec.get("act", "none")]()]
            feat = spec["out"]
        else:
            raise ValueError(f"{tcrnn_path}: op {op!r} has no PyTorch twin in benchmarks/peers.py")
    return nn.Sequential(*layers).eval()


def _shared_models() -> str:
    try:
        from benchmarks._shared import shared_path
    except ImportError:  # loaded by file path (``tinycrnn bench --compare``): import from this folder
        import sys

        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _shared import shared_path
    return shared_path("models")


def find_onnx(tcrnn_path: str, onnx_path: Optional[str] = None) -> Tuple[Optional[str], str]:
    """The ONNX file to run: ``onnx_path``, else ``<model>.onnx`` in the research models folder
    (:mod:`benchmarks._shared`), else an export
    to ``benchmarks/results/<model>.onnx`` made with ``tools/export_onnx.py`` (torch)."""
    if onnx_path:
        return onnx_path, f"ONNX: {onnx_path}"
    stem = os.path.splitext(os.path.basename(tcrnn_path))[0]
    shared = os.path.join(_shared_models(), stem + ".onnx")
    if os.path.isfile(shared):
        return shared, f"ONNX: {shared} (the reference export of the same checkpoint)"
    out = os.path.join(ROOT, "benchmarks", "results", stem + ".onnx")
    if not os.path.isfile(out):
        from tools.export_onnx import export

        export(tcrnn_path, out)
    return out, f"ONNX: {out} (exported from {tcrnn_path} by tools/export_onnx.py)"


def make_peers(tcrnn_path: str, threads: int = 1, onnx_path: Optional[str] = None) -> Tuple[Dict[str, Callable], List[str]]:
    """Peer forward functions ``x [B, C, H, W] float32 -> logits [B, T, K]``, each pinned to
    ``threads`` threads, and notes on what was skipped and why."""
    engines: Dict[str, Callable] = {}
    notes: List[str] = []
    try:
        import torch

        torch.set_num_threads(threads)
        tm = build_torch_crnn(tcrnn_path)

        def torch_fn(x, m=tm):
            with torch.inference_mode():
                return m(torch.from_numpy(x)).numpy()

        engines["torch"] = torch_fn
        qm = torch.ao.quantization.quantize_dynamic(build_torch_crnn(tcrnn_path), {torch.nn.LSTM, torch.nn.Linear},
                                                    dtype=torch.qint8)

        def torch_q_fn(x, m=qm):
            with torch.inference_mode():
                return m(torch.from_numpy(x)).numpy()

        engines["torch-dyn-int8"] = torch_q_fn
        notes.append(f"torch {torch.__version__}: module rebuilt from the .tcrnn tensors; torch-dyn-int8 = "
                     "quantize_dynamic(LSTM, Linear), EasyOCR's CPU default")
    except ImportError:
        notes.append("torch not installed (pip install -e '.[bench]'): PyTorch skipped")
    try:
        path, note = find_onnx(tcrnn_path, onnx_path)
        notes.append(note)
    except ImportError:
        path = None
        notes.append("no ONNX file and torch missing for the export: onnxruntime and cv2.dnn skipped")
    if path:
        try:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            in_name = sess.get_inputs()[0].name
            engines["onnxruntime"] = lambda x, s=sess, n=in_name: s.run(None, {n: x})[0]
            notes.append(f"onnxruntime {ort.__version__}, CPUExecutionProvider, intra_op_num_threads={threads}")
        except ImportError:
            notes.append("onnxruntime not installed (pip install -e '.[bench]'): skipped")
        import cv2

        cv2.setNumThreads(threads)
        try:
            net = cv2.dnn.readNetFromONNX(path)
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

            def dnn_fn(x, n=net):
                n.setInput(x)
                return n.forward()

            engines["cv2.dnn"] = dnn_fn
            notes.append(f"cv2.dnn (OpenCV {cv2.__version__}), readNetFromONNX, setNumThreads({threads})")
        except cv2.error as exc:
            notes.append(f"cv2.dnn could not load {os.path.basename(path)}: {str(exc).strip().splitlines()[-1][:160]}")
    return engines, notes
