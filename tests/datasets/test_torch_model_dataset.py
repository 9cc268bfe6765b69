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


def test_a_model_saved_halfway_is_never_loaded_as_latest(tmp_path, caplog):
    """config.json without weights (a kill mid-save, as older versions wrote them) is skipped, not 'latest'."""
    import json

    import torch

    from music_emotion.models.gan import SpectrogramGenerator
    from tests.conf_params import parameters

    config = {"n_mels": 8, "n_frames": 16, "channels": 1, "condition_dim": 2, "latent_dim": 4,
              **parameters("gan_augmentation.generator", base_channels=8, n_upsample=2, min_channels=4),
              "db_min": -80.0, "db_max": 0.0}
    torch.manual_seed(0)
    TorchModelDataset(filepath=str(tmp_path / "generator"),
                      version=Version(None, None)).save(SpectrogramGenerator(config))
    half = tmp_path / "generator" / "2999-01-01T00.00.00.000Z" / "generator"
    half.mkdir(parents=True)
    (half / "config.json").write_text(json.dumps({"model_class": "music_emotion.models.gan.SpectrogramGenerator",
                                                  **config}))
    reader = TorchModelDataset(filepath=str(tmp_path / "generator"), version=Version(None, None))
    with caplog.at_level("WARNING"):
        assert reader.exists()
        model = reader.load()
    assert isinstance(model, SpectrogramGenerator)
    assert "incomplete model version" in caplog.text and "2999-01-01" in caplog.text
    assert not list((tmp_path / "generator").glob("*/*.partial"))


def test_saved_files_follow_the_users_umask(tmp_path):
    """Weights, arrays and archives are readable by whoever the user's umask allows (not a 0600 temp file)."""
    import os

    import numpy as np
    import torch

    from music_emotion.data.spectrograms import SpectrogramSet
    from music_emotion.datasets import SpectrogramDataset, ZipArchiveDataset
    from music_emotion.models.gan import SpectrogramGenerator
    from tests.conf_params import parameters

    config = {"n_mels": 8, "n_frames": 16, "channels": 1, "condition_dim": 2, "latent_dim": 4,
              **parameters("gan_augmentation.generator", base_channels=8, n_upsample=2, min_channels=4),
              "db_min": -80.0, "db_max": 0.0}
    previous = os.umask(0o022)
    try:
        torch.manual_seed(0)
        TorchModelDataset(filepath=str(tmp_path / "generator"),
                          version=Version(None, None)).save(SpectrogramGenerator(config))
        SpectrogramDataset(filepath=str(tmp_path / "mel.npy")).save(
            SpectrogramSet(ids=[1], values=np.zeros((1, 2, 3), np.float32)))
        ZipArchiveDataset(filepath=str(tmp_path / "report.zip")).save({"a.txt": b"1"})
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 5
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o644)}
