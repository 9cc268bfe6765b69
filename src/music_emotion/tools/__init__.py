"""Maintenance commands that are not pipelines (pruning old versions)."""
