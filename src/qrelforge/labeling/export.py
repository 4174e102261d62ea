"""Labels converted between formats: TREC qrels (``.txt``), the label JSONL that UMBRELA reads and writes (``qid``,
``docid``, ``judgment``, ``probs``) and Parquet; a judgment store (``*.judgments.jsonl``) exports every field of every
judgment to Parquet, or its one judge's grades to TREC qrels.

>>> import tempfile
>>> from qrelforge.datasets import bundled_path
>>> out = tempfile.mkdtemp() + "/gpt4o.parquet"
>>> export_labels(bundled_path("dl20-demo") / "teacher-gpt-4o-umbrela.txt", out)
4320
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.files import atomic_file, write_jsonl
from ..io.parquet import write_parquet_rows
from ..io.shards import MANIFEST, Manifest, is_shard_folder, shard_judgments, shard_schema, shard_tables
from ..io.store import row_of
from ..io.trec import write_qrels
from ..judges.base import Batch, TextTable
from ..judges.replay import label_rows, replay_judge
from ..records import Pair
from .job import stored_judgments

FORMATS = (".txt", ".jsonl", ".parquet")
STORE_SUFFIX = ".judgments.jsonl"


def export_labels(source: str | Path, target: str | Path) -> int:
    """Write the labels (a label file, a judgment store or a shard folder) ``source`` as ``target``, whose suffix names
    the format; returns the rows written."""
    source, target = Path(source), Path(target)
    if target.suffix not in FORMATS:
        raise ConfigError(f"--to {target}: the suffix names the format, one of {FORMATS}")
    if is_shard_folder(source):
        return export_shards(source, target)
    rows: list[dict[str, Any]]
    if source.name.endswith(STORE_SUFFIX):  # a store: every judgment, every field
        by_judge = stored_judgments(source)
        judges = len(by_judge)
        if target.suffix == ".jsonl" or (target.suffix == ".txt" and judges > 1):
            kinds = "label JSONL" if target.suffix == ".jsonl" else "TREC qrels (one grade per pair)"
            targets = "to .parquet (every field of every judgment)" + (
                " or to .txt (its grades as TREC qrels)" if judges == 1 else ""
            )
            raise ConfigError(
                f"{source} is a judgment store with {judges} judge{'s' if judges != 1 else ''}; it "
                f"cannot be written as {kinds}: export it {targets}"
            )
        judgments = [j for mine in by_judge.values() for j in mine]
        rows = [row_of(j) for j in judgments]
        labels: dict[Pair, int] = {j.pair: j.grade for j in judgments if j.ok and j.grade is not None}
    else:
        judge = replay_judge(source)
        rows = label_rows(judge.judge(Batch(sorted(judge.grades), TextTable({}, {}))), judge.scale)
        labels = dict(judge.grades)
    if target.suffix == ".txt":
        write_qrels(target, labels)
    elif target.suffix == ".jsonl":
        write_jsonl(target, rows)
    else:
        write_parquet_rows(target, rows)
    return len(rows)


def export_shards(shards: Path, target: Path) -> int:
    """A shard folder's labels as one file, streamed shard by shard (memory does not grow with the pair set): TREC
    qrels or label JSONL (the graded pairs, in the pair set's order) or Parquet (every judgment, every field)."""
    import pyarrow.parquet as pq

    scale = Manifest.from_json(shards / MANIFEST).scale
    written = 0
    with atomic_file(target) as handle:
        if target.suffix == ".parquet":
            with pq.ParquetWriter(handle, shard_schema()) as writer:
                for table in shard_tables(shards):
                    writer.write_table(table)
                    written += table.num_rows
            return written
        for judgment in shard_judgments(shards):
            if not judgment.ok:
                continue
            if target.suffix == ".txt":
                line = f"{judgment.query_id} 0 {judgment.doc_id} {judgment.grade}\n"
            else:
                [row] = label_rows([judgment], scale)
                line = json.dumps(row, ensure_ascii=False) + "\n"
            handle.write(line.encode("utf-8"))
            written += 1
    return written
