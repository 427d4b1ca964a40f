"""``python -m tinycrnn`` is the ``tinycrnn`` command."""
import sys

from .cli import main

sys.exit(main())
