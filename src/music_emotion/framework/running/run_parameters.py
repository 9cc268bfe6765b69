"""The run's parameters at pipeline-construction time.

Which arms the `training` pipeline trains and how many folds and seeds the `experiment` runs
shape the pipelines themselves, so `create_pipeline` needs them before any node runs. Kedro builds
pipelines after the session's context exists, so a hook (`RunParametersHook.after_context_created`)
hands the context's parameters (env and `--params` included) over here. Outside a Kedro session
(tests, scripts) the project's `conf/` is read with the base and `local` envs, as `kedro run` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.framework.running.kedro_internals import forget_built_pipelines

_current: dict[str, Any] = {}


def set_run_parameters(parameters: dict[str, Any]) -> None:
    """Use these parameters to build pipelines (and reload pipelines built with others)."""
    changed = _current.get("parameters") != parameters
    _current["parameters"] = parameters
    if changed:
        forget_built_pipelines()  # rebuilt on next access with these parameters


def run_parameters() -> dict[str, Any]:
    """The parameters set by the current session, else `conf/base` + `conf/local` from disk."""
    if "parameters" not in _current:
        _current["parameters"] = _load_from_disk()
    return _current["parameters"]


def _load_from_disk() -> dict[str, Any]:
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    root = _project_root()
    loader = OmegaConfigLoader(conf_source=str(root / settings.CONF_SOURCE), **settings.CONFIG_LOADER_ARGS)
    return dict(loader["parameters"])


def _project_root() -> Path:
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "conf" / "base").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


class RunParametersHook:
    # First of all after_context_created hooks: one that read `context.params` before this ran would build the
    # pipelines from conf on disk (base + local), whose config loader would also take over the `globals` resolver.
    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        # The config loader's parameters (env and --params merged), not `context.params`, which builds the
        # pipelines to validate them and would do so before this hook has handed the parameters over.
        set_run_parameters(dict(context.config_loader["parameters"]))
