"""`run_lineage`: which run a node runs in and which catalog version of each of its inputs it read.

Nodes are pure and never see versions; a node that must record them (the report archive's manifest) takes
`run_lineage` as an input. Loaded outside a Kedro run it is empty; during `kedro run`,
`hooks_lineage.LineageHook` replaces it with the run's id and the node's input versions.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


class RunLineageDataset(AbstractDataset[None, dict[str, Any]]):
    """Read-only: `{"run": None, "input_versions": {}}` until the lineage hook fills it in."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        return {"run": None, "input_versions": {}}

    def save(self, data: None) -> None:
        raise DatasetError("run_lineage is filled in by the lineage hook; nothing can be saved to it")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {}
