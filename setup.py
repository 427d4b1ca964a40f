"""Shim so that `pip install -e .` works with old pip; configuration lives in pyproject.toml."""
from setuptools import setup

setup()
