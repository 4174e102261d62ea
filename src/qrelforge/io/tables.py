"""The dataset folder's text files: ``queries.tsv`` (qid, text) and ``docs.jsonl`` ({"doc_id", "text"})."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputFormatError
from .files import jsonl_objects, numbered_lines


def read_queries_tsv(path: str | Path) -> dict[str, str]:
    """Query texts by id from a ``qid<TAB>text`` file; a repeated id is an error."""
    queries: dict[str, str] = {}
    for number, line in numbered_lines(path, "queries as 'query_id<TAB>text'"):
        fields = line.rstrip().split("\t")  # trailing tabs and spaces are no column
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            got = (
                f"{len(fields)} tab-separated columns"
                if len(fields) > 2
                else "an empty part"
                if len(fields) == 2
                else "no tab"
            )
            raise InputFormatError(
                path, number, "two tab-separated columns 'query_id<TAB>text', both non-empty", f"{got}: {line[:80]!r}"
            )
        query_id, text = fields
        if query_id in queries:
            raise InputFormatError(path, number, "each query id once", f"query id {query_id!r} again")
        queries[query_id] = text.strip()
    return queries


def read_docs_jsonl(path: str | Path) -> dict[str, str]:
    """Document texts by id from a JSONL file of ``{"doc_id": str, "text": str}`` objects."""
    docs: dict[str, str] = {}
    for number, obj in jsonl_objects(path, 'documents {"doc_id": ..., "text": ...}'):
        doc_id, text = obj.get("doc_id"), obj.get("text")
        for key, value, kinds in (("doc_id", doc_id, (str, int)), ("text", text, (str,))):
            if value is None:
                raise InputFormatError(path, number, f'a string field "{key}"', f"no {key!r} among keys {sorted(obj)}")
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise InputFormatError(
                    path, number, f'a string field "{key}"', f"{key!r} holding {_kind(value)} ({str(value)[:40]})"
                )
        doc_id = str(doc_id)
        if doc_id in docs and docs[doc_id] != text:
            raise InputFormatError(path, number, "one text per doc_id", f"doc_id {doc_id!r} again, other text")
        docs[doc_id] = str(text)
    return docs


def read_doc_metadata(path: str | Path) -> dict[str, dict[str, str]]:
    """The other string fields of each ``docs.jsonl`` object (title, author, file name, folder, ...), by doc id."""
    return {
        str(obj["doc_id"]): {k: v for k, v in obj.items() if k not in ("doc_id", "text") and isinstance(v, str)}
        for _, obj in jsonl_objects(path, 'documents {"doc_id": ..., "text": ...}')
        if "doc_id" in obj
    }


def _kind(value: object) -> str:
    """A JSON value's kind, as a user reads it: a number, true or false, a list, an object."""
    if isinstance(value, bool):
        return "true or false"
    return {int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )
