"""Test-wide settings: no progress bars, no telemetry prompts, deterministic torch on CPU."""

import os
import tempfile

os.environ.setdefault("MUSIC_EMOTION_NO_PROGRESS", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never write into the user's MLflow store (mlruns/ of the project, or a server they exported): every
# session, subprocess runs included, tracks into a temporary one (conf/base/mlflow.yml reads this variable).
os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="music_emotion_mlflow_"),
                                                                "mlflow.db")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_cluster_outlives_a_test():
    """A Dask cluster serves one run (as `EngineHooks` ends it after each run): one per test, never shared."""
    yield
    from music_emotion.audio.engine import close_shared_clusters

    close_shared_clusters()
