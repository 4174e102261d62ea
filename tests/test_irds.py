"""ir_datasets ids: a dataset that ir_datasets builds from local files loads as ``irds:<id>`` with the same queries,
docs and qrels as the folder format, and gives the same agreement numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qrelforge import ConfigError, load_dataset, replay_judge
from qrelforge.cli import main

ir_datasets = pytest.importorskip(
    "ir_datasets", reason="the irds extra is not installed: pip install 'qrelforge[irds]'"
)


@pytest.fixture
def irds_id(small_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The small dataset as TSV and TREC files, registered with ir_datasets under a fresh id."""
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "irds-home"))
    folder = load_dataset(small_dataset)
    (tmp_path / "docs.tsv").write_text("".join(f"{d}\t{t}\n" for d, t in folder.docs.items()))
    (tmp_path / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in folder.queries.items()))
    (tmp_path / "qrels.txt").write_text((small_dataset / "qrels.txt").read_text())
    name = f"qrelforge-test/{tmp_path.name}"
    ir_datasets.registry.register(
        name,
        ir_datasets.create_dataset(
            docs_tsv=str(tmp_path / "docs.tsv"),
            queries_tsv=str(tmp_path / "queries.tsv"),
            qrels_trec=str(tmp_path / "qrels.txt"),
        ),
    )
    return f"irds:{name}"


def test_an_irds_id_reads_as_the_folder_does(irds_id: str, small_dataset: Path) -> None:
    folder, by_id = load_dataset(small_dataset), load_dataset(irds_id)
    assert by_id.qrels == folder.qrels and by_id.queries == dict(folder.queries)
    assert sorted(by_id.docs) == sorted({p.doc_id for p in folder.pairs})  # the judged docs, fetched by id
    assert all(by_id.docs[d] == folder.docs[d] for d in folder.docs)
    assert "not-a-doc" not in by_id.docs


def test_the_same_agreement_through_either(
    irds_id: str, small_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teacher = tmp_path / "teacher.txt"
    qrels = (small_dataset / "qrels.txt").read_text().splitlines()
    teacher.write_text("".join(line.rsplit(" ", 1)[0] + f" {(i * 7) % 4}\n" for i, line in enumerate(qrels)))
    outputs = []
    for dataset in (str(small_dataset), irds_id):
        assert (
            main(["label", "--judge", str(teacher), "--dataset", dataset, "--out", str(tmp_path / "l.txt"), "--quiet"])
            == 0
        )
        capsys.readouterr()
        assert main(["evaluate", str(tmp_path / "l.txt"), "--qrels", str(small_dataset / "qrels.txt"), "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] and outputs[0]["n"] == 96
    assert replay_judge(teacher).grades == {p: g for p, g in replay_judge(tmp_path / "l.txt").grades.items()}


def test_an_unknown_id_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="ir_datasets knows no dataset 'no/such/thing'"):
        load_dataset("irds:no/such/thing")
