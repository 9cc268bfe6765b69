"""Runners for `kedro run --runner`: `music_emotion.runner.DaskRunner` spreads a run's nodes over a Dask cluster
(docs/experiment.md, "On a cluster")."""

from music_emotion.framework.running.dask_runner import DaskRunner

__all__ = ["DaskRunner"]
