"""Readers and writers for the file formats qrelforge speaks: TREC qrels/runs, TSV, JSONL."""
