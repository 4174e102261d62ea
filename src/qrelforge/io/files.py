"""Line-numbered reading and atomic writing: the two primitives every format builds on."""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from ..errors import ConfigError, InputFormatError

T = TypeVar("T")


def numbered_lines(path: str | Path, what: str, complete: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for each non-blank line of a UTF-8 text file (a leading BOM and CRLF line ends
    are read as text editors write them). A missing file, bytes that are not UTF-8, or a NUL byte is an
    InputFormatError naming the file, the line and what was expected. With ``complete``, a last line without its
    newline (an append still in progress) is left out."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, None, f"an existing file with {what}", "no such file")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if complete and not raw.endswith(b"\n"):
                break
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputFormatError(
                    path,
                    number,
                    f"UTF-8 text ({what})",
                    f"bytes that are not UTF-8 (column {exc.start + 1}): a binary file?",
                ) from None
            if "\x00" in line:
                raise InputFormatError(path, number, f"text ({what})", "a NUL byte: a binary file?")
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def read_text(path: str | Path, what: str) -> str:
    """A whole UTF-8 text file (a leading BOM dropped); an unreadable or non-UTF-8 file is an InputFormatError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFormatError(path, None, f"a readable file with {what}", exc.strerror or str(exc)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFormatError(path, line, f"UTF-8 text ({what})", "bytes that are not UTF-8: a binary file?") from None


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """A JSON file holding one object; missing, unreadable, non-UTF-8 or malformed is an InputFormatError."""
    if not Path(path).is_file():
        raise InputFormatError(path, None, f"a file with {what}", "no such file")
    try:
        obj = json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise InputFormatError(path, exc.lineno, f"a JSON object ({what})", f"invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InputFormatError(path, 1, f"a JSON object ({what})", type(obj).__name__)
    return obj


def jsonl_objects(path: str | Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each line of a JSONL file; each line must be a JSON object."""
    for number, line in numbered_lines(path, what):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFormatError(
                path, number, f"one JSON object per line ({what})", f"invalid JSON ({exc.msg})"
            ) from None
        if not isinstance(obj, dict):
            raise InputFormatError(path, number, f"one JSON object per line ({what})", type(obj).__name__)
        yield number, obj


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line, atomically."""
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows to a JSONL file with one write and an fsync: after a crash, only the last line can be torn."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def open_append_only(path: str | Path) -> Path:
    """Make sure an append-only file exists, with its torn tail (if a kill left one) dropped; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    drop_torn_tail(path)
    return path


def drop_torn_tail(path: str | Path) -> None:
    """Cut an append-only file after its last newline: a line a kill tore is dropped, every whole one kept."""
    path = Path(path)
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
            os.fsync(handle.fileno())


@functools.cache
def umask() -> int:
    """The process's file-creation mask (read once, by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def user_cache_dir() -> Path:
    """Where qrelforge keeps what it can measure or compute again: ``$XDG_CACHE_HOME/qrelforge`` (``~/.cache``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qrelforge"


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` so that readers see the old file or the whole new one, never a part."""
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8") if isinstance(text, str) else text)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle to write ``path`` in pieces (streamed exports): the whole file appears when the block ends
    without an error, and nothing (the old file stays) if it raises or the process dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~umask())  # as open() would make it, not mkstemp's private 0600
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_folder_atomic(out: str | Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a fresh folder beside ``out``, then swap it in by renames.

    A crash while writing leaves ``out`` as it was; during the swap itself the old folder sits at ``.NAME.old``
    for two renames. No half-written folder ever carries the name ``out``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        tmp.chmod(0o777 & ~umask())  # as mkdir would make it, not mkdtemp's private 0700
        write(tmp)
        for path in tmp.rglob("*"):  # some writers (safetensors) make private 0600 files: as open() would, instead
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask())
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_yaml_config(path: str | Path, what: str, build: Callable[[dict[str, Any], Path], T]) -> T:
    """``build(mapping, folder)`` on a YAML file holding one mapping. A missing file or bad YAML is an
    InputFormatError with the line; a value ``build`` rejects is a ConfigError that names the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, None, what, "no such file")
    text = read_text(path, what)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # at the end of the text, the line past the last one
        line = min(mark.line + 1, text.count("\n") + 1) if mark else None
        raise InputFormatError(path, line, "YAML", str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise InputFormatError(path, 1, what, type(data).__name__)
    try:
        return build(data, path.parent)
    except (ConfigError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
