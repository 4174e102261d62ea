"""A training run's resumable state, kept beside its output folder: a killed run restarts from its last checkpoint.

The checkpoint holds the trainable weights, the optimizer and schedule, the random state, the next batch and the
losses so far; its key hashes everything that fixes the run (settings, base, training examples), so a changed run
never resumes from another's state. It is written atomically at an optimizer step, at most every
``checkpoint_minutes``, and removed once the student folder is saved.

>>> import tempfile, pathlib
>>> checkpoint = Checkpoint(pathlib.Path(tempfile.mkdtemp()) / "student", "key-1", minutes=0)
>>> checkpoint.load() is None
True
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from ..io.files import write_atomic


class Checkpoint:
    def __init__(self, out: Path, key: str, minutes: float | None) -> None:
        self.path = out.with_name(f".{out.name}.checkpoint.pt")
        self.key, self.minutes = key, minutes
        self.saved_at = time.perf_counter()

    def load(self) -> dict[str, Any] | None:
        """The saved state of this run (same key), or None."""
        import torch

        if self.minutes is None or not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, weights_only=False)
        except (OSError, RuntimeError, EOFError, ValueError):  # unreadable: start over, never half-resume
            return None
        return state if state.get("key") == self.key else None

    def due(self) -> bool:
        return self.minutes is not None and time.perf_counter() - self.saved_at >= 60 * self.minutes

    def save(self, state: dict[str, Any]) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save({"key": self.key, **state}, buffer)
        write_atomic(self.path, buffer.getvalue())
        self.saved_at = time.perf_counter()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def trainable_state(module: Any) -> dict[str, Any]:
    """The weights that train (a frozen encoder's are the base's, and stay out of the checkpoint)."""
    return {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}
