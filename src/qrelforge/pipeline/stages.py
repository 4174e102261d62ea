"""The pipeline's stages. Each takes (config, out, its folder, progress), writes its outputs into its folder and
returns the counts for its manifest."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..datasets import load_dataset
from ..io.files import append_jsonl, drop_torn_tail, jsonl_objects, write_jsonl
from ..judges.base import LookupJudge
from ..judges.cost import total_usage
from ..judges.load import load_teacher
from ..labeling.job import label_job
from ..llm.text import load_llm
from ..progress import progress_bar
from ..records import graded
from ..report import print_table, write_report
from ..students.student import load_student
from ..synthetic.generate import GeneratedQuery, filter_queries, generate_queries, language_of, sample_seeds
from ..synthetic.index import BM25Index
from ..synthetic.mine import mine_candidates
from ..train.data import teacher_examples
from ..train.loop import train_student
from .config import PipelineConfig
from .outputs import candidate_pairs, count, human_sample, read_jsonl, synthetic_dataset, teacher_store_path

SEEDS_PER_CHUNK = 8  # one concurrent batch of requests; its answers are appended together, and a run resumes there


def index(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    docs = load_dataset(config.corpus).docs
    BM25Index.build(docs, config.index, progress=progress).save(folder / "bm25")
    return {"docs": len(docs)}


def generate(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    g, corpus = config.generate, load_dataset(config.corpus)
    docs, metadata = corpus.docs, corpus.metadata  # metadata (title, author, folder...) goes into the prompts
    strata = {d: metadata.get(d, {}).get(g.stratify, "") for d in docs} if g.stratify else None
    seeds = sample_seeds(sorted(docs), g.seeds, g.seed, strata)
    answers = folder / "answers.jsonl"  # one line per chunk of seed docs, appended as each chunk is answered
    done = {seed for row in _whole_lines(answers) for seed in row["seeds"]}
    todo = [s for s in seeds if s not in done]
    llm = load_llm(g.llm)
    with progress_bar("writing queries", len(todo), "seeds", enabled=progress) as advance:
        for start in range(0, len(todo), SEEDS_PER_CHUNK):
            chunk = todo[start : start + SEEDS_PER_CHUNK]
            queries, counts = generate_queries(llm, docs, chunk, g.styles, g.per_doc, metadata)
            row = {"seeds": chunk, "queries": [asdict(q) for q in queries], **counts}
            append_jsonl(answers, [row])
            advance(len(chunk))
    rows = _whole_lines(answers)
    written = [GeneratedQuery(**q) for row in rows for q in row["queries"]]
    language = language_of([docs[s] for s in seeds]) if g.language == "auto" else g.language
    kept, dropped = filter_queries(written, BM25Index.load(out / "index" / "bm25"), g, language)
    write_jsonl(folder / "queries.jsonl", [asdict(q) for q in kept])
    return {
        "seeds": len(seeds),
        "language": language,
        "written": len(written),
        "failed requests": sum(r["failed requests"] for r in rows),
        "empty answers": sum(r["empty answers"] for r in rows),
        "dropped": dropped,
        "kept": len(kept),
    }


def mine(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    queries = read_jsonl(out / "generate" / "queries.jsonl")
    candidates = mine_candidates(
        {q["query_id"]: q["text"] for q in queries},
        {q["query_id"]: q["seed_doc_id"] for q in queries},
        BM25Index.load(out / "index" / "bm25"),
        config.mine,
    )
    write_jsonl(folder / "candidates.jsonl", [asdict(c) for c in candidates])
    return {"queries": len(queries), "candidates": len(candidates), "by source": count([c.source for c in candidates])}


def judge(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    pairs = candidate_pairs(out)
    teacher = load_teacher(config.teacher, pairs)
    labeled = label_job(
        teacher,
        pairs,
        synthetic_dataset(config, out),
        folder / "qrels.txt",
        store=teacher_store_path(out),
        progress=progress,
    )
    judgments = labeled.judgments
    usage = total_usage(judgments)
    return {
        "teacher": teacher.fingerprint,
        "pairs": len(pairs),
        "requests this run": labeled.run.judged,
        "statuses": count([j.status for j in judgments]),
        "grades": count([str(g) for g in labeled.grades.values()]),
        "prompt tokens": usage.prompt_tokens,
        "completion tokens": usage.completion_tokens,
        "cost": round(config.teacher.prices.cost(usage), 6),
    }


def train(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    pairs = candidate_pairs(out)
    asked = load_teacher(config.teacher, pairs)  # every answer is in the store: the teacher is asked nothing
    judgments = label_job(
        asked, pairs, synthetic_dataset(config, out), store=teacher_store_path(out), progress=False
    ).judgments
    grades = graded(judgments)
    probs = {j.pair: j.probs for j in judgments if j.pair in grades and j.probs}
    teacher = LookupJudge(grades, asked.fingerprint, probs, asked.scale)
    dataset = synthetic_dataset(config, out, grades)
    result = train_student(teacher_examples([dataset], teacher), folder / "model", config.train, progress)
    return {
        "train examples": result.train_examples,
        "first loss": round(result.losses[0], 4),
        "last loss": round(result.losses[-1], 4),
        "validation kappa vs teacher": result.validation.cohen_kappa,
    }


def evaluate(config: PipelineConfig, out: Path, folder: Path, progress: bool) -> dict[str, Any]:
    if not config.evaluate.dataset:
        return {"skipped": "no human-labeled dataset in the config (evaluate: {dataset: DIR})"}
    human, pairs = human_sample(config)
    qrels = {p: human.qrels[p] for p in pairs}
    teacher = load_teacher(config.teacher, pairs)
    student = load_student(out / "train" / "model")
    rows = [
        label_job(
            teacher, pairs, human, folder / "teacher-labels.txt", store=teacher_store_path(out), progress=progress
        ).row(qrels, f"teacher: {teacher.fingerprint}"),
        label_job(student, pairs, human, folder / "student-labels.txt", progress=progress).row(
            qrels, f"student: {student.fingerprint}"
        ),
    ]
    title = f"teacher and student vs the human qrels of {Path(config.evaluate.dataset).name} ({len(pairs)} pairs)"
    print_table(rows, title)
    write_report(rows, folder, title)
    return {row.judge.split(":")[0]: row.agreement.to_dict() | {"pairs/s": row.pairs_per_second} for row in rows}


def _whole_lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of an append-only JSONL file (a line torn by a kill is dropped first)."""
    if not path.is_file():
        return []
    drop_torn_tail(path)
    return [obj for _, obj in jsonl_objects(path, "the generator's answers")]
