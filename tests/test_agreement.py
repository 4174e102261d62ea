"""Agreement numbers: a published known answer, and the bookkeeping of pairs missing on either side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qrelforge import Pair, QrelforgeError, agreement, read_qrels

LABELS = Path(__file__).parent / "data" / "dl20-labels"


def test_gpt4o_umbrela_on_dl20_known_answer() -> None:
    result = agreement(read_qrels(LABELS / "narabzad__gpt-4o_graded_dl20_32.txt"), read_qrels(LABELS / "qrels.txt"))
    assert result.n == 11386 and result.missing == 0
    assert round(result.cohen_kappa, 4) == 0.3413
    assert round(result.krippendorff_alpha, 4) == 0.5246
    assert sum(map(sum, result.confusion)) == 11386
    assert result.qrels_histogram == {0: 7780, 1: 1940, 2: 1020, 3: 646}


def test_missing_pairs_are_counted_not_dropped() -> None:
    human = {Pair("q", f"d{i}"): i % 4 for i in range(8)}
    labels = {p: g for p, g in human.items() if p.doc_id != "d0"} | {Pair("q", "extra"): 1}
    result = agreement(labels, human)
    assert (result.n, result.missing_labels, result.missing_qrels, result.missing) == (7, 1, 1, 2)
    assert result.cohen_kappa == pytest.approx(1.0) and result.accuracy == 1.0
    assert result.to_dict()["missing"] == 2


def test_binarized_kappas_and_constant_judge() -> None:
    human = {Pair("q", f"d{i}"): g for i, g in enumerate([0, 0, 1, 1, 2, 2, 3, 3])}
    shifted = {p: min(g + 1, 3) for p, g in human.items()}  # one grade too generous
    result = agreement(shifted, human)
    assert result.kappa_ge1 < 1 and result.kappa_ge2 < 1 and result.spearman > 0.9
    constant = agreement({p: 0 for p in human}, human)
    assert constant.cohen_kappa == 0 and constant.spearman is None  # undefined, not invented


def test_no_common_pair_is_an_error() -> None:
    with pytest.raises(QrelforgeError, match="no pair is graded by both"):
        agreement({Pair("a", "b"): 1}, {Pair("c", "d"): 1})


def test_cli_evaluate_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qrelforge",
            "evaluate",
            str(LABELS / "narabzad__gpt-4o_graded_dl20_32.txt"),
            "--qrels",
            str(LABELS / "qrels.txt"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    for key in (
        "n",
        "missing",
        "cohen_kappa",
        "kappa_ge1",
        "kappa_ge2",
        "krippendorff_alpha",
        "accuracy",
        "spearman",
        "confusion",
    ):
        assert key in result
    assert round(result["cohen_kappa"], 4) == 0.3413 and result["confusion"][0][0] == 5530
