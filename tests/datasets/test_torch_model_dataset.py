"""TorchModelDataset error paths (round trips are tested with the real models in tests/models)."""

import pytest
from kedro.io import DatasetError, Version

from music_emotion.datasets import TorchModelDataset
from music_emotion.models.base import load_pretrained_model


def test_loading_before_training_names_what_to_run(tmp_path):
    dataset = TorchModelDataset(filepath=str(tmp_path / "generator"), version=Version(None, None))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="run the pipeline that trains it first"):
        dataset.load()


def test_saving_something_that_is_not_a_project_model_fails(tmp_path):
    dataset = TorchModelDataset(filepath=str(tmp_path / "m"), version=Version(None, None))
    with pytest.raises(DatasetError, match="project models"):
        dataset.save({"weights": 1})


def test_a_directory_without_weights_is_not_a_model(tmp_path):
    (tmp_path / "config.json").write_text('{"model_class": "music_emotion.models.gan.SpectrogramGenerator"}')
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_pretrained_model(tmp_path)


def test_only_project_classes_are_imported(tmp_path):
    (tmp_path / "config.json").write_text('{"model_class": "os.system"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="music_emotion model class"):
        load_pretrained_model(tmp_path)
