"""Fill in `run_lineage` for the nodes that take it: the run id and the catalog version of each input.

Kedro resolves "latest" per dataset when it first loads it; this hook asks each versioned input which version
that was, so the report archive's manifest can say exactly which files it holds (see `lineage.py` for the
content checks that stop outputs of different runs from being combined).
"""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from music_emotion.framework.running.kedro_internals import dataset_version

RUN_LINEAGE = "run_lineage"


def input_versions(node: Node, catalog: Any) -> tuple[str | None, dict[str, str]]:
    """(this run's save version, {input name: loaded version}) for the node's versioned inputs."""
    run, versions = None, {}
    for name in node.inputs:
        dataset = catalog.get(name) if name != RUN_LINEAGE else None
        version = dataset_version(dataset)
        if version is None:
            continue
        run = run or version.save
        versions[name] = dataset.resolve_load_version()
    return run, versions


class LineageHook:
    @hook_impl
    def before_node_run(self, node: Node, catalog: Any) -> dict[str, Any] | None:
        if RUN_LINEAGE not in node.inputs:
            return None
        run, versions = input_versions(node, catalog)
        return {RUN_LINEAGE: {"run": run, "input_versions": versions}}
