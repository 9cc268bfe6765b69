"""The project's own parameters (conf/base, or base + an env) for tests: defaults live in conf, not in tests."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

CONF = Path(__file__).resolve().parents[1] / "conf"


@cache
def _load(env: str) -> dict[str, Any]:
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(conf_source=str(CONF), base_env="base", default_run_env=env,
                               merge_strategy={"parameters": "soft"})
    return dict(loader["parameters"])


def parameters(section: str, env: str = "base", **overrides: Any) -> dict[str, Any]:
    """A deep copy of `section` (dotted, e.g. "training.model") with dotted-key overrides applied:
    parameters("training", **{"optimisation.epochs": 2})."""
    value: Any = _load(env)
    for key in section.split("."):
        value = value[key]
    value = copy.deepcopy(value)
    for dotted, new in overrides.items():
        *parents, last = dotted.split(".")
        target = value
        for key in parents:
            target = target[key]
        target[last] = new
    return value


def mel_config(**overrides: Any):
    """conf/base's `data_processing.extraction` as a MelConfig, with some values changed (small and fast for tests)."""
    from music_emotion.audio.log_mel import MelConfig

    return MelConfig.from_params(parameters("data_processing.extraction", **overrides))
