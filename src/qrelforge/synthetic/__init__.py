"""Synthetic training data: BM25 over a corpus, queries written from seed documents, mined candidate pairs."""
