"""Transforms: the layered SQL models of `sql/` built in dependency order inside the warehouse."""

from pipeline.transforms.runner import Model, build_models, discover_models

__all__ = ["Model", "build_models", "discover_models"]
