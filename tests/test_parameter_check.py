"""Bad parameters stop a run before its first node, one line per key with what it accepts."""

import pytest

from music_emotion.framework.checks.parameter_values import parameter_problems
from tests.conf_params import _load


@pytest.mark.parametrize("env", ["base", "demo"])
def test_the_shipped_configuration_passes(env):
    params = _load(env)
    assert parameter_problems(params, set(params)) == []


@pytest.mark.parametrize("section, key, value, message", [
    ("training", "optimisation.learning_rate", "abc", "must be a positive number"),
    ("training", "optimisation.batch_size", 0, "whole number of at least 1"),
    ("inference", "files_per_batch", 0, "whole number of at least 1"),
    ("inference", "files_per_batch", -1, "whole number of at least 1"),
    ("seed", None, -5, "number of at least 0"),
    ("gan_augmentation", "training.generator_lr", float("nan"), "must be a positive number"),
    ("seed", None, 1.5, "must be a whole number"),
    ("training", "optimisation.batch_size", True, "whole number of at least 1"),
    ("data_processing", "labels.rating_max", float("inf"), "must be a finite number"),
    ("data_processing", "labels.rating_min", "1", "must be a finite number"),
])
def test_a_bad_value_is_named_with_what_it_accepts(section, key, value, message):
    params = _load("demo")
    params = {**params}
    if key is None:
        params[section] = value
    else:
        import copy

        params[section] = copy.deepcopy(params[section])
        target = params[section]
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    (problem,) = parameter_problems(params, {section, "seed"} - ({"seed"} if key is not None else set()))
    dotted = section if key is None else f"{section}.{key}"
    assert problem.startswith(f"{dotted} = {value!r}") and message in problem


def test_only_the_sections_the_run_reads_are_checked():
    params = {**_load("demo"), "inference": {"files_per_batch": 0}}
    assert parameter_problems(params, {"training"}) == []
    assert parameter_problems(params, {"inference"}) == [
        "inference.files_per_batch = 0: must be a whole number of at least 1"]


def test_a_rating_scale_that_is_no_interval_is_refused():
    import copy

    params = copy.deepcopy(_load("demo"))
    params["data_processing"]["labels"]["rating_max"] = 0
    (problem,) = parameter_problems(params, {"data_processing"})
    assert problem.startswith("data_processing.labels.rating_min = 1, rating_max = 0: rating_min must be below")
