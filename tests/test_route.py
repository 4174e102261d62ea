"""The routing cascade: the student labels everything, the teacher exactly the N least sure pairs, a rerun pays
nothing, and every merged label keeps its provenance in the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fault_server import fault_server

from qrelforge import Budget, ConfigError, JudgmentStore, load_dataset, load_student, read_qrels
from qrelforge.cli import main
from qrelforge.labeling.route import route_job, uncertainty


@pytest.fixture
def student(tiny_student: Path) -> Path:
    return tiny_student


def test_budgets_read_as_counts_shares_or_money() -> None:
    assert Budget.parse("500") == Budget(pairs=500) and Budget.parse("30%") == Budget(share=0.3)
    assert Budget.parse("$20") == Budget(usd=20.0) and Budget.parse("$2.5").count(9, [1.0] * 9) == 2
    for bad in ("lots", "$30%", "120%", "2.5"):
        with pytest.raises(ConfigError, match="budget"):
            Budget.parse(bad)


def test_the_n_least_sure_pairs_go_to_the_teacher_and_a_rerun_sends_none(
    student: Path, small_dataset: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(small_dataset)
    with fault_server(lambda body, n: ("ok", ["Score: 3"])) as server:
        teacher_file = tmp_path / "t.yaml"
        teacher_file.write_text(f"model: m\nbase_url: {server.base_url}\nlogprobs: false\n")
        from qrelforge import load_judge

        teacher = load_judge(teacher_file, dataset)
        routed = route_job(
            load_student(student),
            teacher,
            dataset.pairs,
            dataset,
            tmp_path / "labels.txt",
            Budget(pairs=10),
            "margin",
            progress=False,
        )
        assert len(server.bodies) == 10
        again = route_job(
            load_student(student),
            teacher,
            dataset.pairs,
            dataset,
            tmp_path / "labels.txt",
            Budget(pairs=10),
            "margin",
            progress=False,
        )
        assert len(server.bodies) == 10 and again.teacher_run.judged == 0 and again.routed == routed.routed
    mine = JudgmentStore(tmp_path / "labels.txt.judgments.jsonl").judgments(routed.student_run.judge)
    scores = np.array(
        uncertainty([j.probs for j in mine], (0, 1, 2, 3), load_student(student).card.thresholds, "margin")
    )
    least_sure = {mine[i].pair for i in np.argsort(-scores, kind="stable")[:10]}
    assert set(routed.routed) == least_sure and routed.sources == {"student": 86, "teacher": 10}
    rows = [json.loads(line) for line in (tmp_path / "labels.txt.provenance.jsonl").read_text().splitlines()]
    merged = read_qrels(tmp_path / "labels.txt")
    assert len(rows) == len(merged) == 96
    for row in rows:
        pair = next(p for p in merged if (p.query_id, p.doc_id) == (row["qid"], row["docid"]))
        assert merged[pair] == row["grade"]
        if row["source"] == "teacher":
            assert row["grade"] == 3 and row["teacher"]["status"] == "ok" and pair in least_sure
        else:
            assert row["grade"] == row["student"]["grade"] and row["teacher"] is None
        assert abs(sum(row["student"]["probs"].values()) - 1) < 1e-3


def test_the_cli_contract_routes_to_a_replayed_label_file(
    student: Path, small_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`qrelforge label --model MODEL_DIR --dataset DIR --out LABELS --route TEACHER --budget B`."""
    teacher = tmp_path / "teacher.txt"
    teacher.write_text((small_dataset / "qrels.txt").read_text())  # the humans, replayed as the teacher
    out = tmp_path / "labels.txt"
    assert (
        main(
            [
                "label",
                "--model",
                str(student),
                "--dataset",
                str(small_dataset),
                "--out",
                str(out),
                "--route",
                str(teacher),
                "--budget",
                "25%",
                "--quiet",
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "96 pairs: 72 graded by the student, 24 by the teacher" in printed and "75% of a teacher-only" in printed
    human = read_qrels(small_dataset / "qrels.txt")
    rows = [json.loads(line) for line in (tmp_path / "labels.txt.provenance.jsonl").read_text().splitlines()]
    assert all(
        read_qrels(out)[p] == human[p]
        for p in human
        if next(r for r in rows if (r["qid"], r["docid"]) == (p.query_id, p.doc_id))["source"] == "teacher"
    )
    report = (tmp_path / "r" / "report.md").read_text()
    assert "cascade (cut, budget 25%)" in report and "Calibration of the student's grade probabilities" in report
    assert (
        main(
            [
                "label",
                "--model",
                str(student),
                "--dataset",
                str(small_dataset),
                "--out",
                str(out),
                "--route",
                str(teacher),
                "--budget",
                "$5",
            ]
        )
        == 2
    )
    assert "needs a teacher with prices" in capsys.readouterr().err


def test_fill_labels_only_the_unjudged_top_k_keeps_every_human_label_and_reruns_label_nothing(
    student: Path, small_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`qrelforge fill --run RUN --qrels QRELS --judge JUDGE --dataset DIR --depth K --out QRELS_OUT`."""
    from qrelforge import Pair

    dataset = load_dataset(small_dataset)
    human = dataset.qrels
    kept = dict(sorted(human.items())[::3])  # a third of the judgments survive
    (tmp_path / "kept.txt").write_text("".join(f"{p.query_id} 0 {p.doc_id} {g}\n" for p, g in kept.items()))
    ranked = {q: [p.doc_id for p in dataset.pairs if p.query_id == q] for q in dataset.queries}
    (tmp_path / "run.txt").write_text(
        "".join(f"{q} Q0 {d} {r + 1} {100 - r} bm25\n" for q, docs in ranked.items() for r, d in enumerate(docs))
    )
    command = [
        "fill",
        "--run",
        str(tmp_path / "run.txt"),
        "--qrels",
        str(tmp_path / "kept.txt"),
        "--judge",
        str(student),
        "--dataset",
        str(small_dataset),
        "--depth",
        "5",
        "--out",
        str(tmp_path / "filled.txt"),
        "--quiet",
    ]
    assert main(command) == 0
    printed = capsys.readouterr().out
    top = {Pair(q, d) for q, docs in ranked.items() for d in docs[:5]}
    filled = read_qrels(tmp_path / "filled.txt")
    assert set(filled) == set(kept) | top  # the kept labels and the top 5, nothing else
    assert all(filled[p] == g for p, g in kept.items())  # a human label is never overwritten
    holes = top - set(kept)
    assert f"{len(holes)} unjudged pairs in the top 5: {len(holes)} labeled now" in printed
    assert "Judged@10" in printed and "nDCG@10" in printed
    rows = [json.loads(line) for line in (tmp_path / "filled.txt.provenance.jsonl").read_text().splitlines()]
    assert {(r["qid"], r["docid"]) for r in rows if r["source"] == "judge"} == {(p.query_id, p.doc_id) for p in holes}
    assert main(command) == 0
    assert f"{len(holes)} unjudged pairs in the top 5: 0 labeled now, {len(holes)} reused" in capsys.readouterr().out
