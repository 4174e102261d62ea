"""The Judge contract: a judge grades a batch of pairs whose texts travel with it, and declares what else it can do.

    judge.judge(batch: Batch) -> list[Judgment]   # one judgment per pair of the batch, in its order
    judge.worst_case(batch: Batch) -> Usage       # the most judging the batch can bill (Usage() when it bills nothing)
    judge.fingerprint: str                        # "kind:name:hash" of everything that fixes its answers
    judge.scale: tuple[int, ...]                  # its grades, in the order of a judgment's probs
    judge.traits: Traits                          # the most pairs per call, probabilities, prices, a student's card

A ``Batch`` carries its pairs and the texts to read them with — a Dataset, or any ``Texts`` such as a ``TextTable`` —
as a PyTerrier frame carries its columns. A judge holds no dataset, so one judge labels any collection; and every
judge pickles (a loaded model is not pickled but loaded again where it runs), so any judge runs on a Ray actor as it
is. Callers read capabilities from ``traits`` only: nobody probes a judge's type or attributes.

>>> judge = LookupJudge({Pair("q1", "d1"): 3}, "replay:demo:0")
>>> batch = Batch([Pair("q1", "d1"), Pair("q1", "d9")], TextTable({"q1": "cats"}, {"d1": "a cat", "d9": "a dog"}))
>>> [(j.grade, j.status) for j in judge.judge(batch)], judge.traits.prices is None
([(3, 'ok'), (None, 'no_label')], True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from ..llm.config import Prices
from ..llm.gate import RequestLimits
from ..records import Judgment, Pair, StudentCard, Usage


class Texts(Protocol):
    """Query and document texts by id (a ``Dataset`` is one)."""

    @property
    def queries(self) -> Mapping[str, str]: ...

    @property
    def docs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class TextTable:
    """Texts given as two mappings: a results frame's, a Ray block's."""

    queries: Mapping[str, str]
    docs: Mapping[str, str]


NO_TEXTS = TextTable({}, {})


@dataclass(frozen=True)
class Batch:
    """Pairs to judge, with the texts they are read with (looked up when a judge reads them, never copied per pair).
    Without texts, a batch serves judges that read none (recorded labels)."""

    pairs: Sequence[Pair]
    texts: Texts = NO_TEXTS

    def query(self, pair: Pair) -> str:
        try:
            return self.texts.queries[pair.query_id]
        except KeyError:
            raise ConfigError(f"no text for query {pair.query_id!r}: the batch's texts do not hold it") from None

    def doc(self, pair: Pair) -> str:
        try:
            return self.texts.docs[pair.doc_id]
        except KeyError:
            raise ConfigError(f"no text for doc {pair.doc_id!r}: the batch's texts do not hold it") from None

    def queries(self) -> list[str]:
        """The query text of each pair, in order."""
        return [self.query(p) for p in self.pairs]

    def docs(self) -> list[str]:
        """The document text of each pair, in order."""
        return [self.doc(p) for p in self.pairs]


@dataclass(frozen=True)
class Traits:
    """What a judge declares beyond judging."""

    batch_pairs: int = 4096  # the most pairs one call takes (labeling sizes its batches by the clock, below this)
    probabilities: bool = False  # its judgments carry grade probabilities over its scale
    prices: Prices | None = None  # it bills tokens: worst_case() bounds a batch's usage, prices turn usage into US$
    card: StudentCard | None = None  # a trained student's record: decision thresholds, temperature, training
    folder: Path | None = None  # a trained student's folder: what a fine-tune on more grades starts from
    limits: RequestLimits | None = None  # it sends requests under these limits (on Ray: one gate for all actors)


@runtime_checkable
class Judge(Protocol):
    """Anything that grades pairs (see the module's docstring for the contract)."""

    fingerprint: str
    scale: tuple[int, ...]
    traits: Traits

    def judge(self, batch: Batch) -> list[Judgment]:
        """One judgment per pair of the batch, in its order."""
        ...

    def worst_case(self, batch: Batch) -> Usage:
        """An upper estimate of what judging the batch bills (``Usage()`` for a judge that bills nothing)."""
        ...


class LookupJudge:
    """Answers from known grades: human qrels, or a label file replayed as a teacher.

    A pair the table does not cover gets ``status="no_label"`` and no grade — never a guessed one. Recorded grade
    probabilities (``probs``, over ``scale``; by default the grades present) are given back with their grades.
    """

    def __init__(
        self,
        grades: Mapping[Pair, int],
        fingerprint: str,
        probs: Mapping[Pair, tuple[float, ...]] | None = None,
        scale: Sequence[int] | None = None,
    ) -> None:
        self.grades, self.fingerprint, self.probs = grades, fingerprint, probs or {}
        self.scale = tuple(scale) if scale else tuple(sorted(set(grades.values())))
        self.traits = Traits(batch_pairs=100_000, probabilities=bool(self.probs))

    def judge(self, batch: Batch) -> list[Judgment]:
        return [self._answer(pair) for pair in batch.pairs]

    def _answer(self, pair: Pair) -> Judgment:
        grade = self.grades.get(pair)
        return Judgment(
            pair.query_id,
            pair.doc_id,
            grade,
            self.fingerprint,
            status="ok" if grade is not None else "no_label",
            probs=self.probs.get(pair),
        )

    def worst_case(self, batch: Batch) -> Usage:
        return Usage()
