"""Shared ground for every layer: errors, configuration, the home layout and its lock."""
