"""Build a teacher Judge from its configuration: the prompt (template, scale, guidelines, few-shot) and the backend."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..datasets import Dataset, load_dataset
from ..errors import InputFormatError
from ..io.trec import read_qrels
from ..records import Pair
from .base import Judge
from .config import TeacherConfig
from .prompt import Prompt, few_shot_examples, load_template


def build_prompt(config: TeacherConfig, judged: Sequence[Pair]) -> Prompt:
    """The prompt of ``config``; few-shot examples never come from the queries of the ``judged`` pairs."""
    guidelines = ""
    if config.guidelines:
        try:
            guidelines = Path(config.guidelines).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputFormatError(config.guidelines, None, "a text file of assessor guidelines", str(exc)) from None
    examples = ()
    if config.few_shot:
        shots = config.few_shot
        examples = few_shot_examples(load_dataset(shots.dataset), read_qrels(shots.labels), shots.per_grade, judged,
                                     shots.seed)
    return Prompt(load_template(config.template), config.scale, guidelines, examples, config.max_passage_chars)


def load_teacher(config: TeacherConfig, dataset: Dataset, judged: Sequence[Pair] = ()) -> Judge:
    """The teacher of ``config`` as a Judge over ``dataset``'s texts (kind ``openai`` or ``llama-cpp``)."""
    prompt = build_prompt(config, judged)
    if config.kind == "llama-cpp":
        from .local import LlamaCppTeacher

        return LlamaCppTeacher(config, prompt, dataset)
    from .teacher import OpenAITeacher

    return OpenAITeacher(config, prompt, dataset)
