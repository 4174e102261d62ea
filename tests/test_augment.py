"""Augmented training sets (provenance), ranking measures against a hand computation, paired tests, rankers that
learn, and the augment / rank-eval commands end to end on tiny data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qrelforge import (
    ConfigError,
    InputFormatError,
    Judgment,
    Pair,
    TrainConfig,
    load_dataset,
    replay_judge,
    teacher_examples,
    train_student,
)
from qrelforge.cli import main
from qrelforge.evaluate.ranking import mean_with_interval, paired_comparison, per_query
from qrelforge.rank.augment import provenance, read_training_labels, training_labels, write_training_labels
from qrelforge.rank.config import RankerConfig
from qrelforge.rank.experiment import rank_eval
from qrelforge.rank.rankers import train_ranker
from qrelforge.synthetic.index import BM25Index

HUMAN = {Pair("q1", "d1"): 3, Pair("q1", "d2"): 0}
MACHINE = [
    Judgment("q1", "d2", 2, "student:s:1", probs=(0.1, 0.1, 0.7, 0.1)),  # humans judged it: human wins
    Judgment("q2", "d3", 1, "student:s:1", probs=(0.2, 0.6, 0.1, 0.1)),
    Judgment("q2", "d4", None, "student:s:1", status="parse_error", raw="??"),  # failed: never a label
    Judgment("q3", "d5", 0, "student:s:1", probs=(0.4, 0.3, 0.2, 0.1)),
]  # unsure


def test_training_sets_have_the_expected_provenance_mix(tmp_path: Path) -> None:
    sets = {
        mix: training_labels(HUMAN, "human:h:1", MACHINE, (0, 1, 2, 3), mix) for mix in ("human", "student", "both")
    }
    assert {(t.pair, t.grade, t.source) for t in sets["human"]} == {(p, g, "human") for p, g in HUMAN.items()}
    assert {(t.pair, t.grade, t.source) for t in sets["student"]} == {
        (Pair("q1", "d2"), 2, "student"),
        (Pair("q2", "d3"), 1, "student"),
        (Pair("q3", "d5"), 0, "student"),
    }
    both = {t.pair: (t.grade, t.source, t.judge) for t in sets["both"]}
    assert both == {
        Pair("q1", "d1"): (3, "human", "human:h:1"),
        Pair("q1", "d2"): (0, "human", "human:h:1"),
        Pair("q2", "d3"): (1, "student", "student:s:1"),
        Pair("q3", "d5"): (0, "student", "student:s:1"),
    }
    assert provenance(sets["both"]) == {"human": 2, "student": 2}
    sure = training_labels(HUMAN, "human:h:1", MACHINE, (0, 1, 2, 3), "both", min_confidence=0.5)
    assert {t.pair for t in sure if t.source == "student"} == {Pair("q2", "d3")}  # 0.4 < 0.5: left out
    assert [t.confidence for t in sure if t.source == "student"] == [0.6]

    path = tmp_path / "both.jsonl"
    write_training_labels(path, sets["both"])
    assert read_training_labels(path) == sets["both"]  # provenance survives the file
    assert replay_judge(path).grades == {t.pair: t.grade for t in sets["both"]}  # and it is a label file
    path.write_text('{"qid": "q1", "docid": "d1", "judgment": 3}\n')
    with pytest.raises(InputFormatError, match=r"both.jsonl:1: .*'source'"):
        read_training_labels(path)
    with pytest.raises(ConfigError, match="mix"):
        training_labels(HUMAN, "h", MACHINE, (0, 1, 2, 3), "everything")


def test_ndcg_matches_a_hand_computation() -> None:
    qrels = {Pair("q1", "d1"): 3, Pair("q1", "d2"): 0, Pair("q1", "d3"): 1, Pair("q2", "d4"): 2}
    run = {"q1": {"d1": 0.1, "d2": 0.9, "d3": 0.5}, "q2": {"d4": 1.0, "d9": 2.0}}  # d9: unjudged, counts as 0
    values = per_query(qrels, run)
    dcg = 0 / math.log2(2) + 1 / math.log2(3) + 3 / math.log2(4)  # ranked d2 (0), d3 (1), d1 (3)
    ideal = 3 / math.log2(2) + 1 / math.log2(3)
    assert values["nDCG@10"]["q1"] == pytest.approx(dcg / ideal, abs=1e-9)  # 0.5869
    assert values["nDCG@10"]["q2"] == pytest.approx((2 / math.log2(3)) / 2, abs=1e-9)
    assert values["RR(rel=2)@10"] == pytest.approx({"q1": 1 / 3, "q2": 1 / 2})  # grade 1 is not relevant here
    assert values["AP(rel=2)"] == pytest.approx({"q1": 1 / 3, "q2": 1 / 2})
    with pytest.raises(ConfigError, match="share no query"):
        per_query(qrels, {"q7": {"d1": 1.0}})


def test_paired_tests_tell_a_real_difference_from_noise() -> None:
    rng = np.random.default_rng(1)
    a = {f"q{i}": v for i, v in enumerate(rng.uniform(0.2, 0.8, 40))}
    better = {q: v + 0.05 + rng.normal(0, 0.02) for q, v in a.items()}
    noise = {q: v + rng.normal(0, 0.05) for q, v in a.items()}
    real, chance = paired_comparison(a, better), paired_comparison(a, noise)
    assert real.difference == pytest.approx(0.05, abs=0.01) and real.p_randomization < 0.001 and real.p_ttest < 0.001
    assert chance.p_randomization > 0.05 and chance.p_ttest > 0.05
    assert paired_comparison(a, a).p_randomization == 1.0
    mean = mean_with_interval(a)
    assert mean.low < mean.value < mean.high and mean.queries == 40


def test_bm25_scores_of_given_docs_match_its_search() -> None:
    docs = {"d1": "the cat sat on the mat", "d2": "dogs chase cats", "d3": "stock markets fell", "d4": "a cat a cat"}
    index = BM25Index.build(docs)
    top = dict(index.search(["cat"], k=4)[0])
    assert index.scores("cat", ["d3", "d1", "d4", "unknown"]) == pytest.approx([0.0, top["d1"], top["d4"], 0.0])


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve queries whose relevant passages share their words (BM25 and a small model can learn it)."""
    from conftest import write_dataset

    topics = [
        "coffee",
        "volcano",
        "penguin",
        "violin",
        "glacier",
        "saturn",
        "tomato",
        "bridge",
        "desert",
        "tiger",
        "piano",
        "comet",
    ]
    queries, docs, qrels = {}, {}, []
    for i, topic in enumerate(topics):
        queries[f"q{i}"] = f"facts about the {topic}"
        for k, (text, grade) in enumerate(
            [
                (f"the {topic} is described here with {topic} facts", 3),
                (f"a short note that mentions a {topic}", 2),
                (f"an unrelated story about the {topics[i - 1]}", 0),
                (f"weather report for the {topics[i - 2]} region", 0),
            ]
        ):
            docs[f"d{i}-{k}"] = text
            qrels.append(f"q{i} 0 d{i}-{k} {grade}")
    return write_dataset(tmp_path_factory.mktemp("toy"), queries, docs, qrels)


def test_rankers_learn(toy: Path, small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    real = load_dataset(small_dataset)  # real DL20 pairs: BM25 and lengths explain their grades only in part
    gbm = train_ranker(
        real,
        training_labels(real.qrels, "human:dl20", [], (0, 1, 2, 3), "human"),
        tmp_path / "gbm",
        RankerConfig(kind="lightgbm", steps=30),
    )
    assert gbm.losses[-1] < gbm.losses[0] - 0.05  # 1 - training nDCG@10 falls
    dataset = load_dataset(toy)
    labels = training_labels(dataset.qrels, "human:toy", [], (0, 1, 2, 3), "human")
    neural = train_ranker(
        dataset,
        labels,
        tmp_path / "ce",
        RankerConfig(base=str(tiny_base), steps=60, batch_size=8, learning_rate=5e-3, max_length=32),
        progress=False,
    )
    assert np.mean(neural.losses[-5:]) < np.mean(neural.losses[:5]) - 0.3  # about 1.1 -> 0.5 on random bases


def test_rank_eval_reports_and_reuses_its_runs(toy: Path, tmp_path: Path) -> None:
    dataset = load_dataset(toy)
    train, held = dataset.subset([f"q{i}" for i in range(8)]), dataset.subset([f"q{i}" for i in range(8, 12)])
    human = training_labels(train.qrels, "human:toy", [], (0, 1, 2, 3), "human")
    sets = {"few": human[:8], "all": human}  # 2 queries' labels against 8 queries'
    config = RankerConfig(kind="lightgbm", steps=20)
    rows = rank_eval(train, sets, held, tmp_path / "eval", config, progress=False)
    assert [r.name for r in rows] == ["few", "all"] and rows[0].versus_first is None
    assert rows[1].provenance == {"human": 32} and rows[1].means["nDCG@10"].queries == 4
    assert rows[1].versus_first.queries == 4
    run_file = tmp_path / "eval" / "all" / "run.txt"
    assert len(run_file.read_text().splitlines()) == 16  # 4 queries x 4 judged candidates
    stamp = run_file.stat().st_mtime_ns
    again = rank_eval(train, sets, held, tmp_path / "eval", config, progress=False)
    assert run_file.stat().st_mtime_ns == stamp  # reused, not retrained
    assert [r.per_query for r in again] == [r.per_query for r in rows]


def test_augment_and_rank_eval_commands(
    toy: Path, tiny_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import write_dataset

    dataset = load_dataset(toy)
    few = [f"q{i}" for i in range(4)]  # humans labeled 4 queries; the student labels the pool of 4 more
    small = write_dataset(
        tmp_path / "small",
        dict(dataset.queries),
        dict(dataset.docs),
        [f"{p.query_id} 0 {p.doc_id} {g}" for p, g in dataset.qrels.items() if p.query_id in few],
    )
    student = train_student(
        teacher_examples([load_dataset(small)]),
        tmp_path / "student",
        TrainConfig(student="cross-encoder", base=str(tiny_base), max_steps=3, max_length=32),
        progress=False,
    ).model_dir
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "".join(f"{p.query_id} 0 {p.doc_id} 0\n" for p in dataset.pairs if p.query_id in [f"q{i}" for i in range(2, 8)])
    )  # overlaps the human queries q2 and q3
    out = tmp_path / "aug"
    args = [
        "augment",
        "--dataset",
        str(small),
        "--pairs",
        str(pool),
        "--model",
        str(student),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    both = read_training_labels(out / "both.jsonl")
    assert provenance(both) == {"human": 16, "student": 16}  # q2, q3 keep their human labels
    assert provenance(read_training_labels(out / "student.jsonl")) == {"student": 24}
    assert main(args) == 0  # a rerun labels nothing again
    assert len((out / "machine-labels.txt.judgments.jsonl").read_text().splitlines()) == 24

    held = write_dataset(
        tmp_path / "held",
        {q: dataset.queries[q] for q in ("q8", "q9", "q10", "q11")},
        dict(dataset.docs),
        [
            f"{p.query_id} 0 {p.doc_id} {g}"
            for p, g in dataset.qrels.items()
            if p.query_id in ("q8", "q9", "q10", "q11")
        ],
    )
    capsys.readouterr()
    assert (
        main(
            [
                "rank-eval",
                "--train-dataset",
                str(small),
                "--train",
                f"human={out / 'human.jsonl'}",
                "--train",
                str(out / "both.jsonl"),
                "--eval-dataset",
                str(held),
                "--ranker",
                "lightgbm",
                "--steps",
                "10",
                "--feature-model",
                str(student),
                "--out",
                str(tmp_path / "rank"),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "nDCG@10" in printed and "both" in printed
    report = (tmp_path / "rank" / "report.md").read_text()
    assert "| human | 16 | 16 | 0 |" in report and "| both | 32 | 16 | 16 |" in report and "p (randomization)" in report
    per_query_lines = (tmp_path / "rank" / "per-query.tsv").read_text().splitlines()
    assert len(per_query_lines) == 1 + 2 * 3 * 4  # 2 sets x 3 measures x 4 queries
    assert json.loads((tmp_path / "rank" / "both" / "run-key.json").read_text())["losses"]
    twice = [
        "rank-eval",
        "--train-dataset",
        str(small),
        "--train",
        str(out / "both.jsonl"),
        "--train",
        str(out / "both.jsonl"),
        "--eval-dataset",
        str(held),
        "--out",
        str(tmp_path / "r2"),
        "--quiet",
    ]
    assert main(twice) == 2 and "two training sets are named 'both'" in capsys.readouterr().err
