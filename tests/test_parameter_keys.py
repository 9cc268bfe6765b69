"""A parameter name that no section has stops the run with the nearest real name, in --params and in conf files."""

from __future__ import annotations

import pytest
import yaml

from music_emotion.framework.checks.parameter_names import base_parameter_schema, unknown_keys
from tests.conf_params import CONF, _load
from tests.test_hooks import _kedro_in_a_copy

SCHEMA = base_parameter_schema(CONF)


@pytest.mark.parametrize("params, said", [
    ({"training": {"epochs": 5}}, "training.epochs: no such parameter; did you mean `training.optimisation.epochs`?"),
    ({"trainng": {"optimisation": {"epochs": 5}}}, "trainng: no such parameter; did you mean `training`?"),
    ({"experiment": {"n_fold": 3}}, "experiment.n_fold: no such parameter; did you mean `experiment.n_folds`?"),
    ({"inference": {"files_per_bacth": 3}},
     "inference.files_per_bacth: no such parameter; did you mean `inference.files_per_batch`?"),
    ({"experiment": {"overrides": {"training": {"trainig": {"epochs": 1}}}}},
     "experiment.overrides.training.trainig: no such parameter; did you mean"),
])
def test_an_unknown_key_is_named_with_the_nearest_real_one(params, said):
    (problem,) = unknown_keys(params, SCHEMA)
    assert problem.startswith(said)


def test_names_the_user_chooses_and_free_model_kwargs_pass():
    params = {"arms": {"my_arm": {"model": "vit"}}, "training": {"augmentations": {"my_masks": {"x": 1}},
                                                                "model": {"vit_config": {"anything": 3}}},
              "experiment": {"overrides": {"training": {"optimisation": {"epochs": 1}}}}}
    assert unknown_keys(params, SCHEMA) == []


@pytest.mark.parametrize("env", ["base", "demo", "rehearsal"])
def test_every_env_the_project_ships_uses_only_known_names(env):
    assert unknown_keys(_load(env), SCHEMA) == []


def test_the_notebook_gan_recipe_uses_only_known_names():
    recipe = yaml.safe_load((CONF / "gan_recipes" / "notebook.yml").read_text())
    assert unknown_keys(recipe, SCHEMA) == []


def test_a_mistyped_or_renamed_parameter_stops_kedro_run_in_one_line_each(tmp_path):
    """One `kedro run` (a subprocess: ~10 s) for both kinds of wrong name."""
    code, output = _kedro_in_a_copy(tmp_path, "run", "--env", "demo", "--pipelines", "data_processing", "--params",
                                    "training.epochs=5,data_processing.extraction.n_mel=64,training.training.epochs=5")
    assert code == 1, output[-2000:]
    assert "training.training: renamed to `training.optimisation` in 0.2" in output
    assert "training.epochs: no such parameter; did you mean `training.optimisation.epochs`?" in output
    assert "data_processing.extraction.n_mel: no such parameter; did you mean `data_processing.extraction.n_mels`?" \
        in output
    assert "Traceback" not in output

