"""Strict reading of an LLM judge's answer: a few documented formats; anything else is a parse error.

Accepted answers (the grade must be on the judge's scale):
- the whole answer is a JSON object with an integer ``score``: ``{"score": 2}``;
- the last non-empty line is ``Score: N`` or ``##final score: N`` (any case, ``:`` or ``=``);
- the whole answer is the grade alone: ``2``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from ..records import GradeScale

SCORE_LINE = re.compile(r"^(?:#+\s*)?(?:final\s+)?score\s*[:=]\s*(\d+)\s*\.?$", re.IGNORECASE)


def parse_grade(text: str, scale: GradeScale) -> int | None:
    """The grade an answer gives, or None when it is not in an accepted format or not on the scale."""
    answer = text.strip()
    grade: Any = None
    if answer.startswith("{"):
        try:
            grade = json.loads(answer).get("score")
        except (json.JSONDecodeError, AttributeError):
            return None
    elif answer.isdigit():
        grade = int(answer)
    elif answer:
        match = SCORE_LINE.match(answer.splitlines()[-1].strip())
        grade = int(match.group(1)) if match else None
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in scale.grades:
        return None
    return grade


def grade_probs(tokens: Sequence[Any] | None, grade: int, scale: GradeScale) -> tuple[float, ...] | None:
    """Per-grade probabilities at the answer token that carries ``grade``, from the server's top log-probabilities.

    ``tokens`` is a chat completion choice's ``logprobs.content``; None when the server sent no log-probabilities
    or none of the grades is among the alternatives of that token.
    """
    position = next((t for t in reversed(tokens or ()) if t.token.strip() == str(grade)), None)
    if position is None:
        return None
    mass = dict.fromkeys(scale.grades, 0.0)
    for alternative in position.top_logprobs or ():
        text = alternative.token.strip()
        if text.isdigit() and int(text) in mass:
            mass[int(text)] += math.exp(alternative.logprob)
    total = sum(mass.values())
    return tuple(round(m / total, 6) for m in mass.values()) if total > 0 else None
