"""Turning a teacher's judgments into a trained student."""
