"""Project settings (see Kedro's configuration docs for every option)."""

from kedro.config import OmegaConfigLoader

from music_emotion.hooks import InputCheckHooks
from music_emotion.run_parameters import RunParametersHook

# Check every external input of a run before any node runs (clear message instead of a stack trace).
# RunParametersHook first: pipelines are built from the run's parameters (arms, folds, seeds).
HOOKS = (RunParametersHook(), InputCheckHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `conf/demo` overrides single keys (e.g. gan_augmentation.epochs) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
