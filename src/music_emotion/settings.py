"""Project settings (see Kedro's configuration docs for every option)."""

import warnings

from kedro.config import OmegaConfigLoader

from music_emotion.hooks import InputCheckHooks
from music_emotion.hooks_lineage import LineageHook
from music_emotion.progress import ExperimentProgressHook
from music_emotion.run_parameters import RunParametersHook

# Deprecation warnings raised inside our dependencies on every command, which no user can act on: silenced
# by their exact message here (where Kedro reads the project), never all warnings.
for _message in (r"register_new_resolver\(\) is deprecated", r".*on_event is deprecated"):
    warnings.filterwarnings("ignore", message=_message, category=UserWarning)
    warnings.filterwarnings("ignore", message=_message, category=DeprecationWarning)

# Check every external input of a run before any node runs (clear message instead of a stack trace).
# RunParametersHook first: pipelines are built from the run's parameters (arms, folds, seeds).
HOOKS = (RunParametersHook(), InputCheckHooks(), ExperimentProgressHook(), LineageHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `conf/demo` overrides single keys (e.g. gan_augmentation.epochs) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
