"""Doctest collection of the package: a module of an optional extra that is not installed is left out."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("pyterrier") else ["src/qrelforge/pyterrier.py"]
