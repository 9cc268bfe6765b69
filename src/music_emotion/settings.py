"""Project settings (see Kedro's configuration docs for every option)."""

import os

from kedro.config import OmegaConfigLoader

from music_emotion.framework.checks import dependency_warnings
from music_emotion.framework.checks.user_errors import UserErrorHook
from music_emotion.framework.hooks import EngineHooks, InputCheckHooks
from music_emotion.framework.lineage_hook import LineageHook
from music_emotion.framework.output import log_output
from music_emotion.framework.output.experiment_progress import ExperimentProgressHook
from music_emotion.framework.output.run_summary import RunSummaryHook
from music_emotion.framework.running.library_lock import LibraryLockHook
from music_emotion.framework.running.run_parameters import RunParametersHook
from music_emotion.framework.running.save_rollback import HalfSavedVersionHook
from music_emotion.framework.tracking.mlflow_run import TrackingHooks

# Our dependencies' warnings that no user can act on, each by its exact message (never all warnings).
dependency_warnings.silence()
# Plain, unwrapped log lines when Kedro's output goes to a file or a pipe (rich wraps them at 80 columns).
log_output.plain_when_not_a_terminal()
# ... without Kedro's "Completed N out of M tasks" after every node ("Running node"/"Completed node" stay).
log_output.drop_task_counts()

# Check every external input of a run before any node runs (clear message instead of a stack trace).
# RunParametersHook first: pipelines are built from the run's parameters (arms, folds, seeds).
HOOKS = (RunParametersHook(), InputCheckHooks(), ExperimentProgressHook(), LineageHook(), TrackingHooks(),
         EngineHooks(), RunSummaryHook(), LibraryLockHook(), HalfSavedVersionHook(),
         UserErrorHook())

# kedro-mlflow registers its hook on install; ours (music_emotion.framework.tracking.mlflow_run) drives it instead,
# so tracking can be switched off by a parameter, the local store is project-relative and a dead server fails fast.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `conf/demo` overrides single keys (e.g. gan_augmentation.epochs) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "mlflow": "soft"},
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"]},
    # `${env_or:MLFLOW_TRACKING_URI,<default>}` in mlflow.yml: MLflow's own variable wins when set (tests point
    # it at a temporary store; a team may export its server), as Kedro allows oc.env only in credentials.
    "custom_resolvers": {"env_or": lambda name, default: os.environ.get(name) or default},
}
