"""One progress bar over the `experiment`'s (seed, fold, arm) results, and one log line per finished fit.

Kedro runs a unit as several nodes (one per arm; one for the fold's GAN and the arms trained on its samples). The bar
opens when `plan_experiment` has said how many results remain (recorded ones are not counted: a resumed run's ETA comes
from what it trains), advances each time an arm's result is recorded, and names the fold and arm being fitted.
Under `ParallelRunner` node hooks run in worker processes, which have no bar: there only the log lines appear;
the DaskRunner hands its driver's hook each finished node.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.console import progress_bar
from music_emotion.study.unit_records import UnitRecord

logger = logging.getLogger(__name__)
PLAN_NODE = "plan_experiment"
GENERATOR_NODES = {"fit_gan_and_record_arms": "GAN + its arms", "fit_diffusion_and_record_arms": "diffusion + its arms"}
FITTING_NODES = ("fit_and_record_arm", *GENERATOR_NODES)


def unit_and_step(node_name: str) -> tuple[str, str] | None:
    """('seed0_fold1', 'ridge') for 'seed0_fold1.ridge.fit_and_record_arm', ('seed0_fold1', 'GAN + its arms') for
    its fit_gan_and_record_arms (and the diffusion generator's alike)."""
    parts = node_name.split(".")
    if len(parts) < 2 or not parts[0].startswith("seed") or parts[-1] not in FITTING_NODES:
        return None
    return parts[0], GENERATOR_NODES.get(parts[-1], parts[1])


def _records(outputs: dict[str, Any]) -> list[UnitRecord]:
    return [value for value in outputs.values() if isinstance(value, UnitRecord)]


class ExperimentProgressHook:
    def __init__(self) -> None:
        self._bar = None
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        found = unit_and_step(node.name)
        if found:
            self._started[node.name] = time.perf_counter()
            if self._bar is not None:
                self._bar.set_postfix_str(f"{found[0]}: {found[1]}")

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        self.node_finished(node.name, outputs)

    def node_finished(self, name: str, outputs: dict[str, Any]) -> None:
        """After any node (also called by the DaskRunner's driver, whose nodes run elsewhere)."""
        if name.rsplit(".", 1)[-1] == PLAN_NODE:
            plan = outputs.get("experiment_plan") or {}
            remaining = int(plan.get("total", 0)) - int(plan.get("recorded", 0))
            self._close()
            self._bar = progress_bar(total=remaining, desc="experiment", unit="result") if remaining else None
            return
        found = unit_and_step(name)
        trained = [record for record in _records(outputs) if not record.resumed]
        if not found or not trained:
            return
        started = self._started.pop(name, None)  # None under the DaskRunner: the node ran elsewhere
        took = f" in {time.perf_counter() - started:.1f} s" if started is not None else ""
        logger.info("experiment: %s %s fitted, scored and recorded%s", found[0], found[1], took)
        if self._bar is not None:
            self._bar.update(len(trained))

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
