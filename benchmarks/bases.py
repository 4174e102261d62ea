"""Student bases zero-shot: how well a base's own query/passage cosine orders the human grades, and what embedding
every judged text costs, per numeric format.

    python benchmarks/bases.py --data ../shared/data --base minilm --base /work/models/embeddinggemma-300m \
        [--collections trec-dl-2019-passage ...] [--precisions fp32,bf16] [--sample 300]

Each base is a frozen bi-encoder (``train_layers=0``): its embeddings go to the on-disk cache
($QRELFORGE_EMBEDDING_CACHE), so later runs and the leave-one-collection-out benchmark reuse them. Per collection it
prints Spearman of the cosine with the NIST grade, AUC at grade >= 2 and >= 1, and the mean per-query Spearman; per
format, texts/s on ``--sample`` texts embedded alone (cold cache) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from qrelforge import TrainConfig, load_dataset
from qrelforge.students.base import autocast, numeric_format
from qrelforge.students.bi_encoder import BiEncoder
from qrelforge.students.config import EngineSettings
from qrelforge.students.encoders import default_base
from qrelforge.students.engine import prepare, score_texts

COLLECTIONS = ("llmjudge-dev", "trec-dl-2019-passage", "trec-dl-2020-passage")


def frozen(base: str, fmt: str) -> BiEncoder:
    """The base as a frozen bi-encoder in inference state for ``fmt`` (its embedding cache on)."""
    model = BiEncoder.from_base(base, [0, 1, 2, 3], "cpu", TrainConfig(train_layers=0))
    prepare(model, fmt)
    return model


def cosines(model: BiEncoder, queries: list[str], docs: list[str], fmt: str) -> np.ndarray:
    """The cosine of each pair (the bi-encoder's head is monotonic in it), from cached embeddings where present."""
    import torch

    features = model.encode(queries, docs, 256)
    with torch.inference_mode(), autocast(fmt == "bf16", "cpu"):
        out = np.zeros(len(features), dtype=np.float32)
        order = sorted(range(len(features)), key=lambda i: len(features[i]["doc_ids"]))
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            q = model.embed([tuple(features[i]["query_ids"]) for i in rows])
            d = model.embed([tuple(features[i]["doc_ids"]) for i in rows])
            out[rows] = (q * d).sum(-1).float().numpy()
    return out


def quality(scores: np.ndarray, grades: np.ndarray, groups: list[str]) -> dict[str, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    per_query = []
    for g in sorted(set(groups)):
        rows = [i for i, x in enumerate(groups) if x == g]
        if len(set(grades[rows])) > 1:
            per_query.append(spearmanr(scores[rows], grades[rows]).statistic)
    return {
        "spearman": spearmanr(scores, grades).statistic,
        "auc>=2": roc_auc_score(grades >= 2, scores),
        "auc>=1": roc_auc_score(grades >= 1, scores),
        "per-query spearman": float(np.mean(per_query)),
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--data", type=Path, required=True)
    args.add_argument("--base", action="append", required=True, help="a model folder, or 'minilm' (the default)")
    args.add_argument("--collections", nargs="*", default=list(COLLECTIONS))
    args.add_argument("--precisions", default="fp32,bf16")
    args.add_argument("--sample", type=int, default=300, help="texts embedded cold per format for the speed")
    opts = args.parse_args()
    for spec in opts.base:
        base = default_base() if spec == "minilm" else spec
        for fmt in opts.precisions.split(","):
            model = frozen(base, fmt)
            dataset = load_dataset(opts.data / opts.collections[0])
            texts = [dataset.docs[p.doc_id] for p in dataset.pairs[: opts.sample]]
            start = time.perf_counter()
            model.cache = None  # cold: no cache for the speed measurement
            score_texts(model, ["x"] * len(texts), texts, 256, EngineSettings(), fmt)
            seconds = time.perf_counter() - start
            print(
                f"{Path(base).name} {fmt}: {len(texts) / seconds:.1f} texts/s embedding {len(texts)} passages "
                f"(cold), peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB",
                flush=True,
            )
        fmt = numeric_format("auto", "cpu")  # the format a student of this base labels in here
        model = frozen(base, fmt)
        for name in opts.collections:
            dataset = load_dataset(opts.data / name)
            pairs = dataset.pairs
            start = time.perf_counter()
            scores = cosines(
                model, [dataset.queries[p.query_id] for p in pairs], [dataset.docs[p.doc_id] for p in pairs], fmt
            )
            grades = np.array([dataset.qrels[p] for p in pairs])
            numbers = quality(scores, grades, [p.query_id for p in pairs])
            print(
                f"{Path(base).name} ({fmt}) on {name} ({len(pairs)} pairs, {time.perf_counter() - start:.0f} s): "
                + ", ".join(f"{k} {v:.3f}" for k, v in numbers.items()),
                flush=True,
            )


if __name__ == "__main__":
    main()
