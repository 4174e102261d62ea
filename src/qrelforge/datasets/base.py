"""A Dataset is one collection's queries, docs and human qrels, read lazily (here: from a folder).

The folder format is the one of ``../shared/data``: ``queries.tsv`` (qid<TAB>text), ``docs.jsonl``
({"doc_id", "text"}) and ``qrels.txt`` (TREC qrels); large collections may give ``queries.parquet`` and
``docs.parquet`` instead (columns ``query_id``/``doc_id`` and ``text``). Each file is read on first use.

>>> from qrelforge import load_dataset
>>> demo = load_dataset("dl20-demo")
>>> len(demo.queries), len(demo.pairs) > 1000
(54, True)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, InputFormatError
from ..io.files import read_text
from ..io.parquet import read_parquet_texts
from ..io.tables import read_doc_metadata, read_docs_jsonl, read_queries_tsv
from ..io.trec import read_pairs, read_qrels
from ..records import GradeScale, Pair

GRADES_FILE = "grades.txt"  # an optional dataset file naming its grade scale
BUNDLED = {"dl20-demo": "TREC DL 2020 passage subset with GPT-4o (UMBRELA) teacher labels"}


class Dataset:
    """Queries, docs and qrels of one collection. Texts are looked up here, never copied per pair."""

    def __init__(
        self,
        name: str,
        folder: Path | None = None,
        *,
        queries: Mapping[str, str] | None = None,
        docs: Mapping[str, str] | None = None,
        qrels: Mapping[Pair, int] | None = None,
        grades: tuple[int, ...] | None = None,
    ) -> None:
        self.name, self.folder = name, folder
        self._queries, self._docs, self._qrels, self._grades = queries, docs, qrels, grades
        self._metadata: Mapping[str, Mapping[str, str]] | None = None

    @classmethod
    def from_folder(cls, folder: str | Path) -> Dataset:
        """A dataset whose files are read from ``folder`` when first needed."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: expected a dataset folder (queries.tsv, docs.jsonl, qrels.txt); not found")
        return cls(folder.name, folder)

    @property
    def files(self) -> list[Path]:
        """The files this dataset reads (those of its folder that exist): a command never writes over them."""
        names = ("queries.tsv", "queries.parquet", "docs.jsonl", "docs.parquet", "qrels.txt", GRADES_FILE)
        return [self.folder / name for name in names if (self.folder / name).exists()] if self.folder else []

    @property
    def queries(self) -> Mapping[str, str]:
        if self._queries is None:
            parquet = self._file("queries.parquet")
            self._queries = (
                read_parquet_texts(parquet, "query_id")
                if parquet.is_file()
                else read_queries_tsv(self._file("queries.tsv"))
            )
        return self._queries

    @property
    def docs(self) -> Mapping[str, str]:
        if self._docs is None:
            parquet = self._file("docs.parquet")
            self._docs = (
                read_parquet_texts(parquet, "doc_id")
                if parquet.is_file()
                else read_docs_jsonl(self._file("docs.jsonl"))
            )
        return self._docs

    @property
    def metadata(self) -> Mapping[str, Mapping[str, str]]:
        """The docs' other string fields in docs.jsonl (title, author, folder, ...), by doc id; read on first use."""
        if self._metadata is None:
            self._metadata = read_doc_metadata(self._file("docs.jsonl")) if self.folder else {}
        return self._metadata

    @property
    def grades(self) -> tuple[int, ...]:
        """The grade scale: TREC DL's 0-3, unless the folder's ``grades.txt`` names others (e.g. ``1 2 3 4``)."""
        if self._grades is not None:
            return self._grades
        path = self.folder / GRADES_FILE if self.folder else None
        if path is None or not path.is_file():
            return GradeScale().grades
        text = read_text(path, "the dataset's grades")
        try:
            return GradeScale(tuple(int(g) for g in text.split()), tuple(f"grade {g}" for g in text.split())).grades
        except (ValueError, ConfigError) as exc:
            raise InputFormatError(
                path, 1, "the dataset's grades, increasing single digits: 1 2 3 4", str(exc)[:80]
            ) from None

    @property
    def qrels(self) -> Mapping[Pair, int]:
        """Human grades by pair; every id is checked against the dataset's queries and docs, every grade against its
        scale."""
        if self._qrels is None:
            self._qrels = read_qrels(self._file("qrels.txt"), self.queries, self.docs, self.grades)
        return self._qrels

    @property
    def pairs(self) -> list[Pair]:
        """The judged pairs, sorted by query id then doc id."""
        return sorted(self.qrels)

    def subset(self, query_ids: Iterable[str]) -> Dataset:
        """The same collection restricted to some queries (docs are shared, not copied)."""
        keep = set(query_ids)
        return Dataset(
            self.name,
            self.folder,
            queries={q: t for q, t in self.queries.items() if q in keep},
            docs=self.docs,
            qrels={p: g for p, g in self.qrels.items() if p.query_id in keep},
            grades=self.grades,
        )

    def _file(self, name: str) -> Path:
        if self.folder is None:
            raise ConfigError(f"dataset {self.name!r} has no folder to read {name} from")
        return self.folder / name

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, folder={str(self.folder) if self.folder else None!r})"


def bundled_path(name: str) -> Path:
    """The folder of a dataset shipped inside the package."""
    if name not in BUNDLED:
        known = ", ".join(f"{k} ({v})" for k, v in BUNDLED.items())
        raise ConfigError(f"unknown bundled dataset {name!r}; known: {known}")
    return Path(str(resources.files("qrelforge") / "data" / name))


def load_pairs(path: str | Path, dataset: Dataset) -> list[Pair]:
    """The distinct pairs of a TREC qrels or run file, or of a Parquet file (``*.parquet``: ``query_id`` and
    ``doc_id`` columns), in file order; every id must be one of ``dataset``'s."""
    from ..io.parquet import read_parquet_pairs

    read = read_parquet_pairs if Path(path).suffix == ".parquet" else read_pairs
    return read(path, dataset.queries, dataset.docs)


def split_queries(query_ids: Iterable[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Shuffle the distinct ids with ``seed`` and hold out ``fraction`` of them (at least one, never all).

    Returns ``(kept, held_out)``; the one train/test and train/validation split of queries.

    >>> split_queries(["q1", "q2", "q3", "q4"], 0.25, seed=0)
    (['q1', 'q2', 'q4'], ['q3'])
    """
    ids = sorted(set(query_ids))
    if len(ids) < 2:
        raise ConfigError(f"a split needs at least 2 queries to hold one out; got {len(ids)}")
    random.Random(seed).shuffle(ids)
    held = min(len(ids) - 1, max(1, round(fraction * len(ids))))
    return ids[held:], ids[:held]
