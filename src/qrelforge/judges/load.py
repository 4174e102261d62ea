"""Build a teacher Judge from its configuration: the prompt, and the backend its kind names.

>>> from qrelforge import TeacherConfig, load_teacher
>>> teacher = load_teacher(TeacherConfig(model="gpt-4o"))  # no request until it judges
>>> teacher.fingerprint.startswith("openai:gpt-4o:"), teacher.scale
(True, (0, 1, 2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence

from ..llm.config import TeacherConfig
from ..llm.prompt import build_prompt
from ..records import Pair
from .base import Judge


def load_teacher(config: TeacherConfig, judged: Sequence[Pair] = ()) -> Judge:
    """The teacher of ``config`` as a Judge (kind ``openai`` or ``llama-cpp``); its few-shot examples are never from
    the queries of ``judged``."""
    prompt = build_prompt(config, judged)
    if config.kind == "llama-cpp":
        from .local_teacher import LlamaCppTeacher

        return LlamaCppTeacher(config, prompt)
    from .api_teacher import OpenAITeacher

    return OpenAITeacher(config, prompt)
