"""Panels of judges (their documented rule and agreement figures, checked by hand) and audits of human qrels (planted
flips come first; the original file is never written; corrections export as new qrels)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_dataset
from qrelforge import Pair, audit_job, load_dataset, panel_job, read_qrels, replay_judge
from qrelforge.review.app import export_grades
from qrelforge.review.grades import AssessorGrades
from qrelforge.review.items import load_items

# d1..d6 of query q1; a blank is a pair the judge's file does not grade (its judgment fails: no vote)
VOTES = {"a": [0, 1, 2, 3, 0, 2], "b": [0, 1, 3, 3, 1, None], "c": [0, 2, 1, 3, None, None]}


@pytest.fixture
def three_judges(tmp_path: Path) -> tuple[Path, list[Path]]:
    docs = {f"d{i}": f"passage {i} about cats" for i in range(1, 7)}
    human = [f"q1 0 d{i} {g}" for i, g in enumerate(VOTES["a"], 1)]
    dataset = write_dataset(tmp_path / "data", {"q1": "cats"}, docs, human)
    files = []
    for name, grades in VOTES.items():
        path = tmp_path / f"{name}.txt"
        path.write_text("".join(f"q1 0 d{i} {g}\n" for i, g in enumerate(grades, 1) if g is not None))
        files.append(path)
    return dataset, files


@pytest.mark.parametrize(
    "rule, expected",
    [
        # d3 votes 2, 3, 1: a three-way tie goes to the lowest; d5 votes 0, 1 (c failed): a tie, the lower;
        # d6 has one vote of three, below the quorum of 2: no grade
        ("majority", [0, 1, 1, 3, 0, None]),
        ("mean", [0, 1, 2, 3, 0, None]),  # d2: 4/3 -> 1; d5: 0.5, a half rounded down
        ("median", [0, 1, 2, 3, 0, None]),  # d5: two votes, the lower middle one
    ],
)
def test_a_panel_of_three_label_files_follows_its_documented_rule(
    three_judges: tuple[Path, list[Path]], tmp_path: Path, rule: str, expected: list[int | None]
) -> None:
    folder, files = three_judges
    dataset = load_dataset(folder)
    judges = [replay_judge(f, dataset.grades) for f in files]
    panel = panel_job(judges, dataset.pairs, dataset, tmp_path / "panel.txt", rule, progress=False)
    assert [row.grade for row in panel.provenance] == expected
    assert read_qrels(tmp_path / "panel.txt") == {
        Pair("q1", f"d{i}"): g for i, g in enumerate(expected, 1) if g is not None
    }
    rows = [json.loads(line) for line in (tmp_path / "panel.txt.provenance.jsonl").read_text().splitlines()]
    assert [[m["grade"] for m in row["members"]] for row in rows] == [list(v) for v in zip(*VOTES.values())]
    assert rows[5]["members"][1]["status"] == "no_label" and rows[5]["grade"] is None  # a failure is kept, not a vote
    among = panel.agreement
    # Fleiss' kappa by hand on d1-d4 (all three graded): P_i = 1, 1/3, 0, 1 -> P = 7/12; grade shares 3, 3, 2, 4 of
    # 12 -> P_e = 38/144; kappa = (7/12 - 38/144) / (1 - 38/144) = 46/106
    assert among.pairs_all_graded == 4 and among.fleiss_kappa == pytest.approx(46 / 106)
    # a vs b on d1-d5: observed 3/5, chance (2*1 + 1*2 + 1*0 + 1*2) / 25 = 6/25 -> kappa 0.36 / 0.76
    assert among.pairwise_kappa[(judges[0].fingerprint, judges[1].fingerprint)] == pytest.approx(0.36 / 0.76)
    assert among.krippendorff_alpha is not None and 0 < among.krippendorff_alpha < 1


def test_each_member_has_its_own_store_and_a_rerun_labels_nothing(
    three_judges: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    folder, files = three_judges
    out = tmp_path / "panel.txt"
    command = [sys.executable, "-m", "qrelforge", "label", "--dataset", str(folder), "--out", str(out), "--quiet"]
    for f in files:
        command += ["--judge", str(f)]
    done = subprocess.run([*command, "--panel", "majority"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "judge 1" in done.stdout and "Fleiss' kappa 0.434 on the 4 pairs all graded" in done.stdout
    assert "panel (majority)" in done.stdout  # its row against the dataset's qrels
    stores = sorted(tmp_path.glob("panel.txt.*.judgments.jsonl"))
    assert len(stores) == 3 and all(len(s.read_text().splitlines()) == 6 for s in stores)
    again = subprocess.run([*command, "--panel", "majority"], capture_output=True, text=True)
    assert again.stdout.count("this run 0 labeled, 6 reused") == 3
    alone = subprocess.run(command, capture_output=True, text=True)  # several judges, no rule: one clear error
    assert alone.returncode == 2 and "need --panel majority|mean|median" in alone.stderr
    assert "Traceback" not in alone.stderr


def flipped(qrels: dict[Pair, int], share: float, seed: int) -> tuple[dict[Pair, int], set[Pair]]:
    """``qrels`` with ``share`` of the grades changed to another grade at random, and the pairs changed."""
    rng = random.Random(seed)
    planted = set(rng.sample(sorted(qrels), round(share * len(qrels))))
    grades = sorted(set(qrels.values()))
    changed = {p: rng.choice([g for g in grades if g != qrels[p]]) for p in sorted(planted)}
    return qrels | changed, planted


def test_an_audit_ranks_planted_flips_first_and_exports_corrections_as_new_qrels(tmp_path: Path) -> None:
    demo = load_dataset("dl20-demo")
    qrels, planted = flipped(dict(demo.qrels), 0.05, seed=3)
    audited = tmp_path / "qrels.flipped.txt"
    audited.write_text("".join(f"{p.query_id} 0 {p.doc_id} {g}\n" for p, g in sorted(qrels.items())))
    before = audited.read_bytes()
    gpt4o = replay_judge(demo.folder / "teacher-gpt-4o-umbrela.txt")
    audit = audit_job([gpt4o], qrels, demo, tmp_path / "audit", progress=False)
    found = len(set(audit.top(0.10)) & planted) / len(planted)
    assert found > 0.35  # a random order finds 10% of them
    scores = [row.audit for row in audit.rows]
    assert scores == sorted(scores, reverse=True)
    table = (tmp_path / "audit.tsv").read_text().splitlines()
    assert table[0].split("\t")[:5] == ["rank", "qid", "docid", "human", "score"] and len(table) == len(qrels) + 1

    items = load_items(tmp_path / "audit", demo)
    assert [i.pair for i in items] == [row.pair for row in audit.rows]  # the most suspect first
    assert items[0].to_json()["audit"] == round(audit.rows[0].audit or 0.0, 4)
    assert items[0].grade == qrels[items[0].pair]  # the label shown is the human grade under audit
    grades = AssessorGrades(tmp_path / "audit.assessor.log.jsonl")
    for item in items[:3]:
        grades.save(item.pair, demo.qrels[item.pair], "restored")
    export_grades(grades, {i.pair: i for i in items}, tmp_path / "audit")
    corrected = read_qrels(tmp_path / "audit.corrected.txt")
    assert corrected == qrels | {i.pair: demo.qrels[i.pair] for i in items[:3]}
    assert audited.read_bytes() == before  # the audited file is never written


def test_the_audit_command_refuses_to_write_over_its_qrels(tmp_path: Path) -> None:
    demo = load_dataset("dl20-demo")
    qrels = tmp_path / "audit.corrected.txt"  # what the export of AUDIT = audit would write
    qrels.write_bytes((demo.folder / "qrels.txt").read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "qrelforge", "audit", "--qrels", str(qrels), "--dataset", "dl20-demo"]
        + ["--judge", str(demo.folder / "teacher-gpt-4o-umbrela.txt"), "--out", str(tmp_path / "audit")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "is also an input" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "audit.tsv").exists() and qrels.read_bytes() == (demo.folder / "qrels.txt").read_bytes()
