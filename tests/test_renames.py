"""An earlier release's names (vit_training, <arm>.vit_model, ...) get one line naming the new one."""

from __future__ import annotations

import pytest

from music_emotion.framework.checks.renames import earlier_release_copy, new_name, renamed_in_run
from music_emotion.pipeline_registry import UnknownPipelineError, check_requested


@pytest.mark.parametrize("old, new", [("vit_training", "training"), ("real_only.vit_model", "real_only.trained_model"),
                                      ("seed0_fold1.gan.vit_history", "seed0_fold1.gan.training_history"),
                                      ("real_only.trained_model", None), ("vitamins", None)])
def test_old_names_map_to_new_ones_part_by_part(old, new):
    assert new_name(old) == new


def test_every_option_of_a_run_is_checked_and_a_pinned_version_is_kept():
    problems = renamed_in_run({"load_versions": {"gan.vit_model": "2026-01-01T00.00.00.000Z", "gan.trained_model": "x"},
                               "runtime_params": {"vit_training": {"training": {"epochs": 3}}, "seed": 1},
                               "node_names": ["gan.train_vit"], "to_outputs": None})
    assert problems == [
        "--load-versions gan.vit_model:2026-01-01T00.00.00.000Z: 'gan.vit_model' is now called 'gan.trained_model'; "
        "use --load-versions gan.trained_model:2026-01-01T00.00.00.000Z",
        "--params vit_training: 'vit_training' is now called 'training'; use --params training",
        "--nodes gan.train_vit: 'gan.train_vit' is now called 'gan.train_arm'; use --nodes gan.train_arm",
    ]


def test_an_old_pipeline_name_says_the_new_one():
    with pytest.raises(UnknownPipelineError,
                       match="'vit_training' is called 'training'.*--pipelines training,reporting"):
        check_requested(["vit_training", "reporting"])


def test_an_earlier_release_s_saved_models_are_found_only_where_the_new_name_has_none(tmp_path):
    new = tmp_path / "06_models" / "real_only" / "trained_model"
    (tmp_path / "06_models" / "real_only" / "vit_model" / "2026-01-01T00.00.00.000Z").mkdir(parents=True)
    assert earlier_release_copy(new) == tmp_path / "06_models" / "real_only" / "vit_model"
    new.mkdir()
    assert earlier_release_copy(new) is None


def test_the_old_names_are_removed_when_their_release_comes():
    from music_emotion import __version__
    from music_emotion.framework.checks.renames import REMOVED_IN

    def release(text):
        return tuple(int(part) for part in text.split(".")[:3])

    assert release(__version__) < release(REMOVED_IN), (
        f"renames.py says its old names go in {REMOVED_IN}: delete the module, its test and the README note")


def test_the_renamed_parameter_sections_go_when_their_release_comes():
    from music_emotion import __version__
    from music_emotion.framework.checks.renames import PARAMETERS_REMOVED_IN, renamed_parameter

    def release(text):
        return tuple(int(part) for part in text.split(".")[:3])

    assert renamed_parameter("training.training.epochs") == "training.optimisation.epochs"
    assert renamed_parameter("training.trainingx") is None
    assert release(__version__) < release(PARAMETERS_REMOVED_IN)
