"""The dataset folder's text files: ``queries.tsv`` (qid, text) and ``docs.jsonl`` ({"doc_id", "text"})."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputFormatError
from .files import jsonl_objects, numbered_lines


def read_queries_tsv(path: str | Path) -> dict[str, str]:
    """Query texts by id from a ``qid<TAB>text`` file; a repeated id is an error."""
    queries: dict[str, str] = {}
    for number, line in numbered_lines(path, "queries as 'query_id<TAB>text'"):
        query_id, tab, text = line.partition("\t")
        if not tab or not query_id.strip() or not text.strip():
            raise InputFormatError(path, number, "'query_id<TAB>text' with both parts non-empty", repr(line[:80]))
        if query_id in queries:
            raise InputFormatError(path, number, "each query id once", f"query id {query_id!r} again")
        queries[query_id] = text.strip()
    return queries


def read_docs_jsonl(path: str | Path) -> dict[str, str]:
    """Document texts by id from a JSONL file of ``{"doc_id": str, "text": str}`` objects."""
    docs: dict[str, str] = {}
    for number, obj in jsonl_objects(path, 'documents {"doc_id": ..., "text": ...}'):
        doc_id, text = obj.get("doc_id"), obj.get("text")
        if not isinstance(doc_id, (str, int)) or not isinstance(text, str):
            raise InputFormatError(path, number, 'string fields "doc_id" and "text"', f"keys {sorted(obj)}")
        doc_id = str(doc_id)
        if doc_id in docs and docs[doc_id] != text:
            raise InputFormatError(path, number, "one text per doc_id", f"doc_id {doc_id!r} again, other text")
        docs[doc_id] = text
    return docs


def read_doc_metadata(path: str | Path) -> dict[str, dict[str, str]]:
    """The other string fields of each ``docs.jsonl`` object (title, author, file name, folder, ...), by doc id."""
    return {str(obj["doc_id"]): {k: v for k, v in obj.items() if k not in ("doc_id", "text") and isinstance(v, str)}
            for _, obj in jsonl_objects(path, 'documents {"doc_id": ..., "text": ...}') if "doc_id" in obj}
