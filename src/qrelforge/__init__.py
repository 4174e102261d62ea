"""qrelforge: distill an expensive relevance judge into a small, fast student labeler, measured against humans.

Names are imported on first use, so ``import qrelforge`` (and ``qrelforge --help``) stays instant.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "qrelforge.records": ["Query", "Doc", "Pair", "Judgment", "Usage", "GradeScale", "graded"],
    "qrelforge.errors": ["QrelforgeError", "InputFormatError", "ConfigError"],
    "qrelforge.datasets": ["Dataset", "load_dataset"],
    "qrelforge.io.trec": ["read_qrels", "read_pairs", "write_qrels"],
    "qrelforge.io.store": ["JudgmentStore"],
    "qrelforge.judge.base": ["Judge", "LookupJudge"],
    "qrelforge.judge.replay": ["human_judge", "replay_judge"],
    "qrelforge.judge.student": ["load_student"],
    "qrelforge.labeling_config": ["EngineSettings", "RayOptions"],
    "qrelforge.judge.config": ["TeacherConfig", "Prices", "load_teacher_config"],
    "qrelforge.judge.teachers": ["load_teacher"],
    "qrelforge.train.data": ["teacher_examples", "TrainingSet"],
    "qrelforge.train.config": ["TrainConfig"],
    "qrelforge.train.student": ["train_student"],
    "qrelforge.labeling": ["label", "LabelRun"],
    "qrelforge.evaluate.agreement": ["agreement", "Agreement"],
    "qrelforge.report": ["JudgeRow", "print_table", "write_report"],
    "qrelforge.demo": ["run_demo", "distill_and_compare"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'qrelforge' has no attribute {name!r}")
    return getattr(import_module(_MODULE_OF[name]), name)
