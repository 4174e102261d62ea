"""The review page: assessors grade the pairs the judges disagree on or are least sure of, in a browser on
127.0.0.1; every grade is saved at once and exports as TREC qrels with provenance."""
