"""Deterministic, realistic sample data for opkpi: `generate(out, operators=, days=, seed=, start=)`."""

from pipeline.sample_data.generator import generate

__all__ = ["generate"]
