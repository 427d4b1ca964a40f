"""The shipped models, installed as the package ``tinycrnn.weights``.

The repository keeps them in the top-level ``weights/`` folder; ``pyproject.toml`` maps that folder
to this subpackage, so a wheel, an sdist and an editable install all carry the ``.tcrnn`` files and
their licence inside the installed package, and model lookup (``tinycrnn.engine.weights_dirs``)
never depends on where a checkout is. Nothing here is imported at run time: the folder is found
with ``importlib.util.find_spec``.
"""
