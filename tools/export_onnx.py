"""Export a .tcrnn model to ONNX through PyTorch (bench extra; tools only, never the package).

    python -m tools.export_onnx weights/english_g2.tcrnn benchmarks/results/english_g2.onnx

The PyTorch module is rebuilt from the .tcrnn tensors (``benchmarks/peers.py``), so the ONNX
file holds exactly the weights tinycrnn runs. Input ``input`` [batch, C, H, width] float32,
output ``logits`` [batch, steps, K]; batch and width are dynamic. The export is checked
against tinycrnn's own forward pass on a random input before it is written.
"""
import argparse
import os
import sys


def export(tcrnn_path: str, out_path: str, opset: int = 17, width: int = 256) -> float:
    """Write the ONNX file (traced at batch 1, checked at batch 2); returns max |logit difference|
    against tinycrnn on a random input."""
    import numpy as np
    import onnxruntime as ort
    import torch

    import tinycrnn
    from benchmarks.peers import build_torch_crnn

    model = build_torch_crnn(tcrnn_path)
    ref = tinycrnn.load_model(tcrnn_path, backend="numpy")
    x = (np.random.default_rng(0).random((2, ref.channels, ref.height, width), dtype=np.float32) * 2 - 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    torch.onnx.export(model, (torch.from_numpy(x[:1]),), tmp, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}},
                      opset_version=opset, dynamo=False)
    sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    diff = float(np.max(np.abs(sess.run(None, {"input": x})[0] - ref.forward(x))))
    if diff > 2e-3:
        os.remove(tmp)
        raise RuntimeError(f"ONNX export differs from tinycrnn by {diff:.2e} (> 2e-3); not written")
    os.replace(tmp, out_path)
    return diff


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help=".tcrnn file")
    ap.add_argument("out", help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    diff = export(args.model, args.out, args.opset)
    print(f"wrote {args.out}: max |logit - tinycrnn| = {diff:.2e} on a random 2-line input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
