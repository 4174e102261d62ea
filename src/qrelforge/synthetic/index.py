"""BM25 over a corpus with bm25s: build, save, load, search.

    index = BM25Index.build(dataset.docs)            # IndexConfig(): English stemming (PyStemmer) and stopwords
    index.save("out/index"); index = BM25Index.load("out/index")
    [[(doc_id, score), ...]] = index.search(["what is bm25"], k=10)

>>> index = BM25Index.build({"d1": "the cat sat on the mat", "d2": "stock prices fell", "d3": "cats and dogs"})
>>> [doc for doc, _ in index.search(["cat"], k=2)[0]]  # stemmed: "cats" is "cat"; the shorter text ranks first
['d3', 'd1']
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputFormatError
from ..io.files import read_json_object, write_folder_atomic

SETTINGS_FILE = "qrelforge-index.json"


@dataclass(frozen=True)
class IndexConfig:
    """How texts become BM25 terms (a PyStemmer language, None: no stemming; a bm25s stopword list) and BM25's own
    parameters (bm25s's defaults)."""

    stemmer: str | None = "english"
    stopwords: str | None = "en"
    k1: float = 1.5
    b: float = 0.75


class BM25Index:
    """A bm25s index and the doc ids of its rows; the tokenizer settings travel with it."""

    def __init__(self, retriever: Any, doc_ids: list[str], stemmer: str | None, stopwords: str | None) -> None:
        self.retriever, self.doc_ids, self.stemmer, self.stopwords = retriever, doc_ids, stemmer, stopwords
        self.row_of = {doc_id: row for row, doc_id in enumerate(doc_ids)}

    @classmethod
    def build(cls, docs: Mapping[str, str], config: IndexConfig = IndexConfig(), progress: bool = False) -> BM25Index:
        """Index every doc, its text cut into terms as ``config`` says."""
        import bm25s

        doc_ids = list(docs)
        if not doc_ids:
            raise ConfigError("cannot build a BM25 index over an empty corpus")
        tokens = bm25s.tokenize(
            [docs[d] for d in doc_ids],
            stopwords=config.stopwords,
            stemmer=_stemmer(config.stemmer),
            show_progress=progress,
        )
        retriever = bm25s.BM25(k1=config.k1, b=config.b)
        retriever.index(tokens, show_progress=progress)
        return cls(retriever, doc_ids, config.stemmer, config.stopwords)

    def search(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` best docs of each query, best first (fewer when fewer docs share a term with it)."""
        import bm25s

        tokens = bm25s.tokenize(
            list(queries),
            stopwords=self.stopwords,
            stemmer=_stemmer(self.stemmer),
            return_ids=False,
            show_progress=False,
        )
        vocab = self.retriever.vocab_dict
        tokens = [[t for t in query if t in vocab] for query in tokens]
        asked = [i for i, query in enumerate(tokens) if query]  # a query with no indexed term matches nothing
        results: list[list[tuple[str, float]]] = [[] for _ in tokens]
        if asked:
            rows, scores = self.retriever.retrieve(
                [tokens[i] for i in asked], k=min(k, len(self.doc_ids)), show_progress=False
            )
            for i, row, score in zip(asked, rows, scores):
                results[i] = [(self.doc_ids[r], float(s)) for r, s in zip(row, score) if s > 0]
        return results

    def scores(self, query: str, doc_ids: Sequence[str]) -> list[float]:
        """The BM25 score of ``query`` for each of ``doc_ids`` (0 for a doc the index does not have)."""
        import bm25s

        tokens = bm25s.tokenize(
            [query], stopwords=self.stopwords, stemmer=_stemmer(self.stemmer), return_ids=False, show_progress=False
        )[0]
        known = [t for t in tokens if t in self.retriever.vocab_dict]
        every = self.retriever.get_scores(known) if known else None
        return [float(every[self.row_of[d]]) if every is not None and d in self.row_of else 0.0 for d in doc_ids]

    def save(self, folder: str | Path) -> None:
        """Write the index folder atomically."""

        def fill(tmp: Path) -> None:
            self.retriever.save(str(tmp))
            (tmp / SETTINGS_FILE).write_text(
                json.dumps({"doc_ids": self.doc_ids, "stemmer": self.stemmer, "stopwords": self.stopwords}),
                encoding="utf-8",
            )

        write_folder_atomic(Path(folder), fill)

    @classmethod
    def load(cls, folder: str | Path) -> BM25Index:
        import bm25s

        settings_path = Path(folder) / SETTINGS_FILE
        if not settings_path.is_file():
            raise InputFormatError(
                settings_path, None, "a BM25 index folder written by BM25Index.save", "no settings file"
            )
        settings = read_json_object(settings_path, "a BM25 index's settings")
        return cls(bm25s.BM25.load(str(folder)), settings["doc_ids"], settings["stemmer"], settings["stopwords"])


def _stemmer(language: str | None) -> object:
    if language is None:
        return None
    import Stemmer

    try:
        return Stemmer.Stemmer(language)
    except KeyError:
        raise ConfigError(f"no PyStemmer stemmer for {language!r}; known: {Stemmer.algorithms()}") from None
