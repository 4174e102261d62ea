"""The synthetic-data pipeline: one YAML config, stages with manifests, skip and resume."""
