"""Judge prompts as data: a template file, the grade scale, assessor guidelines and few-shot examples.

Templates use ``string.Template`` placeholders: ``$query`` and ``$passage`` (required), ``$scale`` (one
"grade = meaning" line per grade), ``$low``, ``$high``, ``$grades``, ``$guidelines`` and ``$examples`` (empty
when there are none). Bundled templates: ``umbrela`` (Upadhyay et al.'s UMBRELA prompt, answers
``##final score: N``) and ``rubric`` (answers ``Score: N``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..datasets import Dataset, load_dataset
from ..errors import ConfigError, InputFormatError
from ..io.files import read_text
from ..io.trec import read_qrels
from ..records import GradeScale, Pair
from .config import TeacherConfig
from .fence import fence

BUNDLED = Path(__file__).parent / "prompts"
FIELDS = ("query", "passage", "scale", "low", "high", "grades", "guidelines", "examples")


@dataclass(frozen=True)
class FewShot:
    """A labeled pair shown to the judge as an example."""

    query: str
    passage: str
    grade: int


@dataclass(frozen=True)
class Prompt:
    """Everything that turns a pair into the text a judge reads; it all enters the judge's fingerprint."""

    template: str
    scale: GradeScale = GradeScale()
    guidelines: str = ""
    examples: tuple[FewShot, ...] = ()
    max_passage_chars: int | None = None  # longer passages are cut (TeacherConfig holds the teachers' default)
    fence: bool = False  # the passage between <passage> tags, its marker-like lines quoted (llm/fence.py)

    def cuts(self, passage: str) -> bool:
        """Whether ``render`` reads only the start of this passage (it is longer than ``max_passage_chars``)."""
        return self.max_passage_chars is not None and len(passage) > self.max_passage_chars

    def render(self, query: str, passage: str) -> str:
        """The prompt for one pair."""
        scale = self.scale
        cut = slice(self.max_passage_chars)
        guidelines = f"\nAssessor guidelines:\n{self.guidelines.strip()}\n" if self.guidelines.strip() else ""
        examples = "".join(
            f"\nExample:\nQuery: {e.query}\nPassage: {e.passage[cut]}\nScore: {e.grade}\n" for e in self.examples
        )
        return Template(self.template).substitute(
            query=query,
            passage=fence(passage[cut]) if self.fence else passage[cut],
            low=scale.grades[0],
            high=scale.grades[-1],
            grades=", ".join(map(str, scale.grades)),
            guidelines=guidelines,
            examples=examples,
            scale="\n".join(f"{g} = {m}" for g, m in zip(scale.grades, scale.meanings)),
        )


def load_template(name_or_path: str | Path) -> str:
    """A bundled template by name (``umbrela``, ``rubric``) or a template file; its placeholders are checked."""
    path = BUNDLED / f"{name_or_path}.txt"
    if not path.is_file():
        path = Path(name_or_path)
        if not path.is_file():
            bundled = sorted(p.stem for p in BUNDLED.glob("*.txt"))
            raise ConfigError(f"prompt template {str(name_or_path)!r} is neither a bundled one {bundled} nor a file")
    text = read_text(path, "a prompt template")
    template = Template(text)
    names = set(template.get_identifiers())
    if not template.is_valid() or not {"query", "passage"} <= names or names - set(FIELDS):
        line = next(
            (n for n, row in enumerate(text.splitlines(), 1) if "$" in row and not Template(row).is_valid()), None
        )
        raise InputFormatError(
            path,
            line,
            f"a prompt template with $query and $passage, using only "
            f"{', '.join('$' + f for f in FIELDS)} ($$ for a literal $)",
            f"placeholders {sorted(names)}" if template.is_valid() else "a stray $",
        )
    return text


def few_shot_examples(
    dataset: Dataset, labels: Mapping[Pair, int], per_grade: int, judged: Sequence[Pair], seed: int = 0
) -> tuple[FewShot, ...]:
    """``per_grade`` labeled pairs of each grade, drawn from queries that none of the ``judged`` pairs has."""
    banned = {p.query_id for p in judged}
    pool = sorted(
        p for p in labels if p.query_id not in banned and p.query_id in dataset.queries and p.doc_id in dataset.docs
    )
    rng, chosen = random.Random(seed), []
    for grade in sorted(set(labels.values())):
        of_grade = [p for p in pool if labels[p] == grade]
        if len(of_grade) < per_grade:
            raise ConfigError(
                f"few-shot examples: {len(of_grade)} labeled pairs of grade {grade} outside the queries "
                f"being judged, {per_grade} wanted; label pairs of other queries, or lower per_grade"
            )
        chosen += rng.sample(of_grade, per_grade)
    rng.shuffle(chosen)
    return tuple(FewShot(dataset.queries[p.query_id], dataset.docs[p.doc_id], labels[p]) for p in chosen)


def build_prompt(config: TeacherConfig, judged: Sequence[Pair]) -> Prompt:
    """The prompt of ``config``; few-shot examples never come from the queries of the ``judged`` pairs."""
    guidelines = ""
    if config.guidelines:
        guidelines = read_text(config.guidelines, "assessor guidelines")
    examples: tuple[FewShot, ...] = ()
    if config.few_shot:
        shots = config.few_shot
        examples = few_shot_examples(
            load_dataset(shots.dataset), read_qrels(shots.labels), shots.per_grade, judged, shots.seed
        )
    return Prompt(
        load_template(config.template),
        config.scale,
        guidelines,
        examples,
        config.max_passage_chars,
        config.fence_passage,
    )
