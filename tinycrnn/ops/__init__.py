"""The op registry: layer specs in a model file name an op here by its ``op`` string.

Importing this package registers every built-in op (their modules import no kernels).
"""
from typing import Dict, Type

from ..errors import UnknownOpError
from .base import Op

OPS: Dict[str, Type[Op]] = {}


def register(name: str):
    """Class decorator adding an op under ``name``; a duplicate name is a bug and raises."""

    def deco(cls):
        if name in OPS:
            raise RuntimeError(f"op {name!r} registered twice ({OPS[name].__name__} and {cls.__name__})")
        cls.kind = name
        OPS[name] = cls
        return cls

    return deco


def get_op(name: str) -> Type[Op]:
    """The op class registered under ``name``; raises :class:`UnknownOpError` listing known ops."""
    try:
        return OPS[name]
    except KeyError:
        raise UnknownOpError(f"unknown op {name!r}; this tinycrnn knows: {', '.join(sorted(OPS))}") from None


from . import conv, graph_ops, lstm, linear, pool, se, softmax  # noqa: E402,F401  (registration side effect)

__all__ = ["OPS", "Op", "get_op", "register"]
