"""Importers that turn third-party checkpoints (PyTorch .pth, ONNX) into tinycrnn weights."""
