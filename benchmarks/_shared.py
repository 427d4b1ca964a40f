"""Where benchmarks find the research data and reference models: ``$TINYCRNN_SHARED``, else ``../shared`` beside
the checkout. Benchmarks only: the package never reads it (its models ship inside it), and every benchmark also
takes the path as an argument or its own environment variable."""
import os

SHARED = os.environ.get("TINYCRNN_SHARED") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared")


def shared_path(*parts: str) -> str:
    """``SHARED`` joined with ``parts``."""
    return os.path.join(SHARED, *parts)
