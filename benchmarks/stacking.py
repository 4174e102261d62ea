"""Does one ordinal head over several signals beat the best single base? Leave-one-collection-out, frozen signals.

    python benchmarks/stacking.py --data ../shared/data --base minilm --base /work/models/embeddinggemma-300m

Signals per pair: each base's query/passage cosine (frozen, from the embedding cache that benchmarks/bases.py
fills), and BM25 (raw, and relative to the best of the query's judged docs, over the collection's judged docs). For
each held-out collection, a cumulative-link head P(grade >= k) = sigmoid(w . x - c_k) is fitted on the human grades
of the other two collections' training queries; the grade thresholds on its expected grade are tuned on their
validation queries (as ``train_student`` does); the held-out collection is only labeled. Each single signal gets the
same treatment, so the rows compare like with like.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bases import COLLECTIONS, cosines, frozen
from scipy.optimize import minimize

from qrelforge import agreement, load_dataset, split_queries
from qrelforge.records import Pair
from qrelforge.students.base import numeric_format
from qrelforge.students.encoders import default_base
from qrelforge.synthetic.index import BM25Index
from qrelforge.train.thresholds import tune_thresholds


def signals(data: Path, name: str, bases: list[str]) -> tuple[list[Pair], np.ndarray, np.ndarray, list[str]]:
    """The judged pairs of a collection, their signals (one column each), their grades, and the column names."""
    dataset = load_dataset(data / name)
    pairs = dataset.pairs
    columns, names = [], []
    fmt = numeric_format("auto", "cpu")
    for base in bases:
        model = frozen(base, fmt)
        columns.append(
            cosines(model, [dataset.queries[p.query_id] for p in pairs], [dataset.docs[p.doc_id] for p in pairs], fmt)
        )
        names.append(f"cos {Path(base).name}")
    index = BM25Index.build(dataset.docs)
    bm25 = np.zeros(len(pairs))
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        rows.setdefault(p.query_id, []).append(i)
    for query_id, members in rows.items():
        bm25[members] = index.scores(dataset.queries[query_id], [pairs[i].doc_id for i in members])
    relative = np.zeros(len(pairs))
    for members in rows.values():
        relative[members] = bm25[members] / max(bm25[members].max(), 1e-9)
    columns += [np.log1p(bm25), relative]
    names += ["log(1 + bm25)", "bm25 / query best"]
    return pairs, np.column_stack(columns), np.array([dataset.qrels[p] for p in pairs]), names


def fit(x: np.ndarray, y: np.ndarray, grades: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Weights and increasing cuts of a cumulative-link model, by maximum likelihood (features standardized)."""

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w, first, gaps = theta[: x.shape[1]], theta[x.shape[1]], theta[x.shape[1] + 1 :]
        return w, first + np.concatenate([[0.0], np.cumsum(np.logaddexp(0, gaps))])

    def nll(theta: np.ndarray) -> float:
        return -np.log(np.clip(probs(x, *unpack(theta))[np.arange(len(y)), y], 1e-12, None)).mean()

    start = np.concatenate([np.ones(x.shape[1]), [0.0], np.zeros(grades - 2)])
    return unpack(minimize(nll, start, method="L-BFGS-B").x)


def probs(x: np.ndarray, w: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    at_least = 1 / (1 + np.exp(-(x @ w)[:, None] + cuts[None]))
    bounds = np.concatenate([np.ones((len(x), 1)), at_least, np.zeros((len(x), 1))], axis=1)
    return np.clip(bounds[:, :-1] - bounds[:, 1:], 1e-9, 1)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--data", type=Path, required=True)
    args.add_argument("--base", action="append", required=True, help="a model folder, or 'minilm'")
    args.add_argument("--seed", type=int, default=13)
    opts = args.parse_args()
    bases = [default_base() if b == "minilm" else b for b in opts.base]
    every = {name: signals(opts.data, name, bases) for name in COLLECTIONS}
    names = every[COLLECTIONS[0]][3]
    choices = {n: [i] for i, n in enumerate(names)} | {
        "all signals": list(range(len(names))),
        "cosines only": list(range(len(bases))),
    }
    print("| held out | signals | kappa | kappa>=2 | alpha | Spearman | weights |\n|---|---|---|---|---|---|---|")
    for held in COLLECTIONS:
        train = [c for c in COLLECTIONS if c != held]
        x = np.concatenate([every[c][1] for c in train])
        y = np.concatenate([every[c][2] for c in train])
        groups = [f"{c}/{p.query_id}" for c in train for p in every[c][0]]
        kept, val = split_queries(groups, 0.2, opts.seed)
        fit_rows = np.isin(groups, kept)
        mean, std = x[fit_rows].mean(0), x[fit_rows].std(0) + 1e-9
        pairs, test_x, test_y, _ = every[held]
        for label, columns in choices.items():
            w, cuts = fit(((x - mean) / std)[fit_rows][:, columns], y[fit_rows])
            expected = probs(((x - mean) / std)[~fit_rows][:, columns], w, cuts) @ np.arange(4)
            thresholds = tune_thresholds(expected, y[~fit_rows], [0, 1, 2, 3])
            held_expected = probs(((test_x - mean) / std)[:, columns], w, cuts) @ np.arange(4)
            predicted = np.searchsorted(thresholds, held_expected, side="right")
            result = agreement(dict(zip(pairs, predicted.tolist())), dict(zip(pairs, test_y.tolist())))
            print(
                f"| {held} | {label} | {result.cohen_kappa:.4f} | {result.kappa_ge2:.4f} | "
                f"{result.krippendorff_alpha:.4f} | {result.spearman:.4f} | {np.round(w, 2).tolist()} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
