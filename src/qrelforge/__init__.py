"""qrelforge: distill an expensive relevance judge into a small, fast student labeler, measured against humans.

Names are imported on first use, so ``import qrelforge`` (and ``qrelforge --help``) stays instant.

>>> import qrelforge
>>> qrelforge.GradeScale().grades
(0, 1, 2, 3)
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Any

__version__ = metadata.version("qrelforge")  # pyproject.toml is the version's one home

_EXPORTS = {
    "qrelforge.records": ["Pair", "Judgment", "Usage", "GradeScale", "graded", "StudentCard", "Provenance", "Answer"],
    "qrelforge.errors": [
        "QrelforgeError",
        "InputFormatError",
        "ConfigError",
        "JudgeError",
        "StoreError",
        "TeacherError",
        "Interrupted",
    ],
    "qrelforge.datasets": ["Dataset", "load_dataset", "load_pairs", "split_queries"],
    "qrelforge.io.trec": ["read_qrels", "read_pairs", "write_qrels"],
    "qrelforge.io.store": ["JudgmentStore"],
    "qrelforge.evaluate.agreement": [
        "agreement",
        "Agreement",
        "JudgeRow",
        "judge_row",
        "members_agreement",
        "MembersAgreement",
    ],
    "qrelforge.llm.config": ["TeacherConfig", "Prices", "load_teacher_config"],
    "qrelforge.judges.base": ["Judge", "LookupJudge", "Batch", "TextTable", "Texts", "Traits"],
    "qrelforge.judges.cost": ["Budget"],
    "qrelforge.judges.replay": ["human_judge", "replay_judge"],
    "qrelforge.judges.load": ["load_teacher"],
    "qrelforge.students.config": ["EngineSettings"],
    "qrelforge.students.student": ["Student", "load_student"],
    "qrelforge.train.config": ["TrainConfig"],
    "qrelforge.train.data": ["teacher_examples", "TrainingSet"],
    "qrelforge.train.loop": ["train_student"],
    "qrelforge.labeling.config": ["RayOptions", "AdaptConfig"],
    "qrelforge.labeling.local": ["label", "LabelRun"],
    "qrelforge.labeling.ray": ["label_with_ray"],
    "qrelforge.labeling.stream": ["label_parquet"],
    "qrelforge.labeling.job": ["label_job", "load_judge", "Labeled", "LabelFiles"],
    "qrelforge.labeling.route": ["route_job"],
    "qrelforge.labeling.adapt": ["adapt_job", "Route"],
    "qrelforge.labeling.fill": ["fill_job"],
    "qrelforge.labeling.panel": ["panel_job", "Paneled", "PANEL_RULES"],
    "qrelforge.labeling.audit": ["audit_job", "Audit"],
    "qrelforge.labeling.export": ["export_labels", "export_shards"],
    "qrelforge.report": ["print_table", "write_report"],
    "qrelforge.synthetic.index": ["BM25Index", "IndexConfig"],
    "qrelforge.synthetic.generate": ["GenerateConfig", "generate_queries", "filter_queries"],
    "qrelforge.synthetic.mine": ["MineConfig", "mine_candidates"],
    "qrelforge.pipeline.config": ["PipelineConfig", "load_pipeline_config"],
    "qrelforge.pipeline.run": ["run_pipeline"],
    "qrelforge.rank.config": ["RankerConfig"],
    "qrelforge.rank.augment": [
        "TrainingLabel",
        "training_labels",
        "write_training_labels",
        "read_training_labels",
        "augment_job",
    ],
    "qrelforge.rank.experiment": ["rank_eval"],
    "qrelforge.demo": ["run_demo", "distill_and_compare"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'qrelforge' has no attribute {name!r}")
    return getattr(import_module(_MODULE_OF[name]), name)
