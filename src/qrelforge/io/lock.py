"""One writer at a time: an exclusive ``flock`` on a lock file that names its holder.

The kernel drops a killed process's lock with its last file descriptor, so no lock outlives its writer; a lock file
a killed process left behind is just reused. A second writer, in another process or in this one, is refused at once
with a StoreError that names the holder (its pid and command line) and what to do.

>>> import tempfile
>>> path = tempfile.mkdtemp() + "/labels.txt.judgments.jsonl.lock"
>>> first = WriterLock(path, "the judgment store")
>>> try:
...     WriterLock(path, "the judgment store")
... except StoreError as refused:
...     print(str(refused).split(":")[0])
another process is writing the judgment store
>>> first.release()
>>> WriterLock(path, "the judgment store").release()
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import StoreError


class WriterLock:
    """Held from construction to ``release()`` (or until the process ends, whichever comes first)."""

    _fd: int | None

    def __init__(self, path: str | Path, what: str) -> None:
        import fcntl

        self.path, self.what, self._fd = Path(path), what, None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "a process that is starting"
                os.close(fd)
                raise StoreError(
                    f"another process is writing {what}: {holder}. Wait for it to end (or stop it), "
                    f"then run again: nothing it saved is judged twice"
                ) from None
            if _same_file(fd, self.path):  # not a lock file a releasing holder unlinked meanwhile
                break
            os.close(fd)
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, {' '.join(sys.argv)[:300]}\n".encode())

    def check(self) -> None:
        """Raise unless the lock is still held (a released lock is never written under)."""
        if self._fd is None:
            raise StoreError(f"{self.what} was closed; open it again to write")

    def release(self) -> None:
        """Remove the lock file and let the next writer in (a second call does nothing)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still held: the next writer creates a fresh file
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
