"""Transforms: the layered SQL models of `sql/` built in dependency order inside the warehouse."""

from pipeline.transforms.runner import (
    SQL_DIR,
    BuildReport,
    Model,
    build,
    build_models,
    discover_models,
    expand_includes,
    select_models,
)

__all__ = ["SQL_DIR", "BuildReport", "Model", "build", "build_models", "discover_models", "expand_includes",
           "select_models"]
