"""One progress bar over the `experiment`'s (seed, fold, arm) results, and one log line per finished fit.

Kedro runs a unit as several nodes (the fold's GAN, one fitting and one scoring node per arm). The bar opens when
`plan_experiment` has said how many results remain (recorded ones are not counted: a resumed run's ETA comes
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
from music_emotion.study.unit_records import Recorded

logger = logging.getLogger(__name__)
FITTING_NODES = ("train_gan", "train_arm", "fit_mean_baseline", "fit_ridge_baseline")
PLAN_NODE, RECORD_NODE = "plan_experiment", "evaluate_arm"


def unit_and_step(node_name: str) -> tuple[str, str] | None:
    """('seed0_fold1', 'gan') for 'seed0_fold1.gan.train_arm', ('seed0_fold1', 'GAN') for its train_gan."""
    parts = node_name.split(".")
    if len(parts) < 2 or not parts[0].startswith("seed") or parts[-1] not in FITTING_NODES:
        return None
    return parts[0], ("GAN" if parts[-1] == "train_gan" else parts[1])


def _skipped(outputs: dict[str, Any]) -> bool:
    """A fitting node whose arms were all recorded by an earlier run returned markers, not models."""
    return bool(outputs) and all(isinstance(value, Recorded) for value in outputs.values())


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
        step = name.rsplit(".", 1)[-1]
        if step == PLAN_NODE:
            plan = outputs.get("experiment_plan") or {}
            remaining = int(plan.get("total", 0)) - int(plan.get("recorded", 0))
            self._close()
            self._bar = progress_bar(total=remaining, desc="experiment", unit="result") if remaining else None
            return
        if step == RECORD_NODE:
            record = next(iter(outputs.values()), None)
            if self._bar is not None and record is not None and not getattr(record, "resumed", True):
                self._bar.update(1)
            return
        found = unit_and_step(name)
        if not found or _skipped(outputs):
            return
        seconds = time.perf_counter() - self._started.pop(name, time.perf_counter())
        logger.info("experiment: %s %s fitted in %.1f s", found[0], found[1], seconds)

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
