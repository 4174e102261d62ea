"""``python -m qrelforge`` is the ``qrelforge`` command."""
import sys

from .cli import main

sys.exit(main())
