"""Metrics: the metric catalogue and the KPI queries over published snapshots (issue 3 fills it)."""
