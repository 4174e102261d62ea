"""Labeling jobs: any Judge over a pair set into a judgment store and label files, locally or on Ray."""
