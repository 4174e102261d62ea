"""Measuring judges against human assessors."""
