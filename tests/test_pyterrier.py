"""PyTerrier components (no Java): the labeler equals `qrelforge label` on the same pairs and caches its work, the
student re-ranks, and a small pt.Experiment compares two pipelines on student-filled qrels."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrelforge import load_dataset, read_qrels
from qrelforge.cli import main

pt = pytest.importorskip("pyterrier", reason="the pyterrier extra is not installed: pip install 'qrelforge[pyterrier]'")


@pytest.fixture
def student(tiny_student: Path) -> Path:
    return tiny_student


def results(dataset_dir: Path) -> object:
    """Every judged pair of the dataset as a results frame, BM25-scored and ranked per query."""
    import pandas as pd

    from qrelforge import BM25Index

    dataset = load_dataset(dataset_dir)
    index = BM25Index.build(dataset.docs)
    rows = [
        {
            "qid": p.query_id,
            "query": dataset.queries[p.query_id],
            "docno": p.doc_id,
            "text": dataset.docs[p.doc_id],
            "score": index.scores(dataset.queries[p.query_id], [p.doc_id])[0],
        }
        for p in dataset.pairs
    ]
    return pt.model.add_ranks(pd.DataFrame(rows))


def test_the_labeler_equals_qrelforge_label_and_asks_nothing_twice(
    student: Path, small_dataset: Path, tmp_path: Path
) -> None:
    from qrelforge.pyterrier import Labeler

    frame = results(small_dataset)
    labeler = Labeler(str(student), tmp_path / "cache")
    labeled = labeler.transform(frame)
    assert (
        main(
            [
                "label",
                "--judge",
                str(student),
                "--dataset",
                str(small_dataset),
                "--out",
                str(tmp_path / "cli.txt"),
                "--quiet",
            ]
        )
        == 0
    )
    cli = {(p.query_id, p.doc_id): g for p, g in read_qrels(tmp_path / "cli.txt").items()}
    assert {(q, d): int(g) for q, d, g in zip(labeled["qid"], labeled["docno"], labeled["label"])} == cli
    assert {"p_0", "p_1", "p_2", "p_3"} <= set(labeled.columns)
    assert (labeled[["p_0", "p_1", "p_2", "p_3"]].sum(axis=1) - 1).abs().max() < 1e-3
    store = tmp_path / "cache" / "labels.txt.judgments.jsonl"
    lines = len(store.read_text().splitlines())
    Labeler(str(student), tmp_path / "cache").transform(frame)  # a new labeler over the same cache
    assert len(store.read_text().splitlines()) == lines == len(frame)


def test_an_experiment_on_student_filled_qrels(student: Path, small_dataset: Path, tmp_path: Path) -> None:
    """Half the human labels removed, the holes of both pipelines' top 5 filled by the student, then compared."""
    from qrelforge.pyterrier import Labeler, Reranker, as_qrels

    frame = results(small_dataset)
    human = load_dataset(small_dataset).qrels
    kept = dict(list(sorted(human.items()))[::2])
    bm25 = pt.Transformer.from_df(frame)
    reranked = bm25 >> Reranker(str(student))
    topics = frame[["qid", "query"]].drop_duplicates()
    tops = [system.transform(topics) for system in (bm25, reranked)]
    import pandas as pd

    from qrelforge import Pair

    pool = pd.concat([t[t["rank"] < 5] for t in tops]).drop_duplicates(["qid", "docno"])
    holes = pool[[Pair(q, d) not in kept for q, d in zip(pool["qid"], pool["docno"])]]
    filled = Labeler(str(student), tmp_path / "cache").transform(holes)
    qrels = dict(kept) | {Pair(q, d): int(g) for q, d, g in zip(filled["qid"], filled["docno"], filled["label"])}
    assert all(qrels[p] == g for p, g in kept.items())  # human labels win; the student only fills holes
    from ir_measures import nDCG

    table = pt.Experiment(
        [bm25, reranked], topics, as_qrels(qrels), eval_metrics=[nDCG @ 10], names=["bm25", "bm25 >> student"]
    )
    assert list(table["name"]) == ["bm25", "bm25 >> student"]
    assert table["nDCG@10"].between(0, 1).all() and table["nDCG@10"].nunique() == 2
