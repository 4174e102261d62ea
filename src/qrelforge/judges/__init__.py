"""Every source of labels is a Judge: human qrels, a replayed label file, a teacher LLM (a student is in students/)."""
