"""One progress bar over the `experiment`'s fold x arm units, and one log line per finished unit.

Kedro runs a unit as several nodes (the fold's GAN, one fitting node per arm); this hook counts the fitting
nodes of the run, names the current fold and arm on the bar, and logs each one's wall time when it ends.
Node hooks of `ParallelRunner` run in worker processes, which have no bar: there only the log lines appear.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.console import progress_bar

logger = logging.getLogger(__name__)
FITTING_NODES = ("train_gan", "train_arm", "fit_mean_baseline", "fit_ridge_baseline")


def unit_and_step(node_name: str) -> tuple[str, str] | None:
    """('seed0_fold1', 'gan') for 'seed0_fold1.gan.train_arm', ('seed0_fold1', 'GAN') for its train_gan."""
    parts = node_name.split(".")
    if len(parts) < 2 or not parts[0].startswith("seed") or parts[-1] not in FITTING_NODES:
        return None
    return parts[0], ("GAN" if parts[-1] == "train_gan" else parts[1])


class ExperimentProgressHook:
    def __init__(self) -> None:
        self._bar = None
        self._started: dict[str, float] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        units = [n.name for n in pipeline.nodes if unit_and_step(n.name)]
        self._bar = progress_bar(total=len(units), desc="experiment", unit="fit") if units else None

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        found = unit_and_step(node.name)
        if found:
            self._started[node.name] = time.perf_counter()
            if self._bar is not None:
                self._bar.set_postfix_str(f"{found[0]}: {found[1]}")

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        found = unit_and_step(node.name)
        if not found:
            return
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        logger.info("experiment: %s %s finished in %.1f s", found[0], found[1], seconds)
        if self._bar is not None:
            self._bar.update(1)

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
