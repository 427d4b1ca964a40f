"""The sample images, installed as the package ``tinycrnn.samples`` (52 KB).

``pyproject.toml`` maps the top-level ``samples/`` folder to this subpackage, so ``tinycrnn bench``
has its default inputs in a wheel install too; their origins and licences are in ``README.md``
beside them. Nothing here is imported: the folder is found with ``importlib.util.find_spec``.
"""
