"""Augmented datasets and downstream rankers: what a set of labels is worth to a search engine."""
