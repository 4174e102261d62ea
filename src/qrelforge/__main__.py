"""``python -m qrelforge`` is the ``qrelforge`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
