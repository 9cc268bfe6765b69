"""The lineage hook tells a node which catalog version of each input it read."""

from __future__ import annotations

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import Version
from kedro.pipeline import Node
from kedro_datasets.pandas import CSVDataset

from music_emotion.datasets import RunLineageDataset
from music_emotion.framework.lineage_hook import LineageHook


def _table(tmp_path, save_version: str) -> CSVDataset:
    return CSVDataset(filepath=str(tmp_path / "table.csv"), version=Version(None, save_version))


def test_hook_reports_the_version_each_input_was_loaded_from(tmp_path):
    older, newer = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
    _table(tmp_path, older).save(pd.DataFrame({"a": [1]}))
    _table(tmp_path, newer).save(pd.DataFrame({"a": [2]}))
    this_run = "2026-01-03T00.00.00.000Z"
    catalog = DataCatalog({"table": _table(tmp_path, this_run), "plain": MemoryDataset(1),
                           "run_lineage": RunLineageDataset()})
    node = Node(lambda table, plain, run_lineage: run_lineage, ["table", "plain", "run_lineage"], "out")

    filled = LineageHook().before_node_run(node=node, catalog=catalog)

    assert filled == {"run_lineage": {"run": this_run, "input_versions": {"table": newer}}}
    assert LineageHook().before_node_run(node=Node(lambda plain: plain, "plain", "x"), catalog=catalog) is None
    assert RunLineageDataset().load() == {"run": None, "input_versions": {}}
