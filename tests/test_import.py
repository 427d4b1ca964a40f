"""Import hygiene: `import tinycrnn` stays light, and the run-time dependency set stays chosen."""
from conftest import run_python

HEAVY = ("numba", "cv2", "flask", "onnx", "torch", "onnxruntime", "llvmlite", "waitress", "pypdfium2", "ocrmypdf")


def test_import_is_light():
    code = "import sys, tinycrnn; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    out = run_python("-c", code, check=True).stdout.strip()
    assert out == "", f"import tinycrnn pulled in: {out}"


def test_import_public_api_names():
    import tinycrnn

    for name in ("load_model", "Model", "Recognizer", "Decoded", "TinyCRNNError", "ImageError", "WeightFormatError"):
        assert hasattr(tinycrnn, name), name


def test_import_package_never_imports_bench_or_conversion_only_modules():
    import os

    import tinycrnn

    root = os.path.dirname(tinycrnn.__file__)
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith(".py"):
                src = open(os.path.join(dirpath, fn), encoding="utf-8").read()
                for mod in ("torch", "onnxruntime"):
                    assert f"import {mod}" not in src, (fn, mod)
