"""The README's Python examples run as written, and its set-up commands are the ones CI runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
OPTIONAL = ("ir_datasets", "pyterrier")  # the extras a README example may use


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i + 1}" for i in range(len(BLOCKS))])
def test_python_examples_run(block: str) -> None:
    for module in OPTIONAL:
        if re.search(rf"^(import|from) {module}\b", block, flags=re.M):
            pytest.importorskip(module)
    exec(compile(block, "README.md", "exec"), {})


def test_the_readme_has_its_examples() -> None:
    assert len(BLOCKS) >= 3


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(line.split("#")[0].strip() for line in README.splitlines() if line.startswith("make test"))
    assert test_command in (ROOT / ".ci" / "run").read_text()
    # CI runs pytest under `make test`: drop the parent make's settings, which would add "Entering directory" lines
    parent = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {key: value for key, value in os.environ.items() if key not in parent}
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install -e '.[test" in planned and "-m pytest" in planned.splitlines()[-1]  # installs, then tests
