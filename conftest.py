"""Doctest collection of the package: a module of an optional extra that is not installed is left out. Tests run
offline: no model hub is asked for anything (set before any Hugging Face library reads it)."""

import importlib.util
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

collect_ignore = [] if importlib.util.find_spec("pyterrier") else ["src/qrelforge/pyterrier.py"]
