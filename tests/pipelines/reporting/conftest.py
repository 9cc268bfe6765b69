"""Small fake objects in the shapes of the data contracts, for the reporting nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.models.base import PretrainedModelMixin
from music_emotion.study.lineage import fingerprint
from music_emotion.study.metrics import regression_report
from tests.conf_params import mel_config

MODELS = ("mean", "ridge", "real_only", "gan")
ARMS = {  # the `arms` map of conf, as the reporting nodes receive it
    "mean": {"model": "mean_baseline", "label": "mean baseline", "colour": "#8c8c8c"},
    "ridge": {"model": "ridge_baseline", "label": "ridge", "colour": "#b8860b"},
    "real_only": {"model": "vit", "label": "ViT, real data only", "colour": "#1f77b4"},
    "gan": {"model": "vit", "synthetic": True, "label": "ViT, real + GAN", "colour": "#d62728"},
}
N_MELS, N_FRAMES = 16, 44


class TinyModel(PretrainedModelMixin, torch.nn.Module):
    """Stands in for the generator and the ViTs: the archive only needs `save_pretrained`."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.linear = torch.nn.Linear(config["width"], 2)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def extraction():
    return mel_config(n_mels=N_MELS, duration=1.0, hop_length=512, n_fft=1024).to_dict()


@pytest.fixture
def emotion_labels(rng):
    ids = np.arange(1, 41, dtype=np.int64)
    valence = rng.uniform(-0.9, 0.9, len(ids))
    arousal = rng.uniform(-0.9, 0.9, len(ids))
    return pd.DataFrame({
        "song_id": ids,
        "valence": valence,
        "arousal": arousal,
        "valence_mean": 5 + 4 * valence,
        "valence_std": 1.0,
        "arousal_mean": 5 + 4 * arousal,
        "arousal_std": 1.0,
        "source_file": "fake.csv",
    })


@pytest.fixture
def mel_spectrograms(rng, extraction):
    # 38 of the 40 labelled songs have a spectrogram (labels may hold more songs, per the contract)
    ids = list(range(1, 39))
    values = rng.uniform(-80, 0, size=(len(ids), N_MELS, N_FRAMES)).astype(np.float32)
    return SpectrogramSet(ids=ids, values=values, meta={"extraction": extraction})


@pytest.fixture
def song_splits():
    return {"train": list(range(1, 27)), "val": list(range(27, 33)), "test": list(range(33, 39)),
            "seed": 42, "fractions": {"train": 0.7, "val": 0.15, "test": 0.15}}


@pytest.fixture
def synthetic_labels(rng):
    n = 12
    return pd.DataFrame({
        "sample_id": [f"gan-{i:06d}" for i in range(n)],
        "valence": rng.uniform(-1, 1, n),
        "arousal": rng.uniform(-1, 1, n),
        "condition_sampling": "train_labels",
    })


@pytest.fixture
def synthetic_spectrograms(rng, extraction, synthetic_labels):
    values = rng.uniform(-80, 0, size=(len(synthetic_labels), N_MELS, N_FRAMES)).astype(np.float32)
    return SpectrogramSet(ids=list(synthetic_labels["sample_id"]), values=values,
                          meta={"extraction": extraction, "source": "gan", "condition_sampling": "train_labels"})


@pytest.fixture
def gan_history():
    steps = np.arange(1, 6) * 100
    return pd.DataFrame({"step": steps, "epoch": steps / 5.0, "generator_loss": 200.0 / steps,
                         "discriminator_loss": 0.7 + 0.0001 * steps, "aux_mse_real": 0.3 - steps / 2000,
                         "aux_mse_fake": 0.4 - steps / 2000, "conditioning_ccc_valence": steps / 600,
                         "conditioning_ccc_arousal": steps / 700, "frechet_ratio": 1000.0 / steps,
                         "is_best": [False, False, False, True, False]})


def _training_history(offset: float) -> pd.DataFrame:
    epochs = np.arange(1, 5)
    frame = {"epoch": epochs}
    frame["train_loss"] = 0.5 / epochs + offset
    frame["val_loss"] = 0.5 / epochs + 0.05 + offset
    for target in ("valence", "arousal"):
        frame[f"val_mae_{target}"] = 0.4 / epochs + 0.05 + offset
        frame[f"val_ccc_{target}"] = 0.1 * epochs - 0.05 - offset
    frame["val_ccc_mean"] = (frame["val_ccc_valence"] + frame["val_ccc_arousal"]) / 2
    frame["lr"] = 1e-4
    frame["is_best"] = [False, False, True, False]
    return pd.DataFrame(frame)


@pytest.fixture
def vit_histories():
    return {"real_only": _training_history(0.0), "gan": _training_history(0.02)}


@pytest.fixture
def test_predictions(rng, emotion_labels, song_splits):
    truth = emotion_labels.set_index("song_id").loc[song_splits["test"], ["valence", "arousal"]].to_numpy()
    frames = []
    for k, model in enumerate(MODELS):
        if model == "mean":
            predicted = np.zeros_like(truth) + 0.05
        else:
            predicted = truth * (0.3 + 0.2 * k) + rng.normal(0, 0.2, truth.shape)
        frames.append(pd.DataFrame({
            "song_id": song_splits["test"], "model": model,
            "valence_true": truth[:, 0], "arousal_true": truth[:, 1],
            "valence_pred": predicted[:, 0], "arousal_pred": predicted[:, 1],
        }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def test_metrics(test_predictions, tiny_models, song_splits):
    """As `evaluate_test_set` writes it, lineage included: it scored `tiny_models` on `song_splits`."""
    metrics = {}
    for model, rows in test_predictions.groupby("model", sort=False):
        report = regression_report(rows[["valence_true", "arousal_true"]].to_numpy(),
                                   rows[["valence_pred", "arousal_pred"]].to_numpy(), n_resamples=50, seed=0)
        scored = tiny_models.get(f"{model}.trained_model")
        lineage = {"model": fingerprint(scored) if scored is not None else None,
                   "song_splits": fingerprint(song_splits)}
        metrics[model] = {"n_songs": len(rows), **report, "lineage": lineage}
    return metrics


@pytest.fixture
def gan_quality(tiny_models):
    return {
        "lineage": {"generator": fingerprint(tiny_models["generator"]), "synthetic_spectrograms": None},
        "feature": {"name": "pooled_mel_statistics", "dim": 32},
        "n_synthetic": 12,
        "frechet_distance": {"real_train_vs_synthetic": 123.4567, "real_train_vs_real_val_floor": None},
        "conditioning_fidelity_ccc": {"train_real_test_synthetic": {"valence": 0.25, "arousal": -0.1}},
        "mode_collapse": {"ratio": 0.8, "possible_mode_collapse": False},
        "histogram": [1, 2, 3],
    }


@pytest.fixture
def reporting_params():
    return {
        "dpi": 50,
        "n_spectrogram_examples": 4,
        "n_real_vs_synthetic": 3,
        "anchor_radius": 0.5,
        "decimals": 3,
        "style": {
            "real_colour": "#1f77b4",
            "synthetic_colour": "#ff7f0e",
        },
        "gan_quality_labels": {"frechet_distance.real_train_vs_synthetic": "Fréchet distance, real vs synthetic"},
    }


@pytest.fixture
def tiny_models():
    torch.manual_seed(0)
    return {name: TinyModel({"width": 3})
            for name in ("generator", "discriminator", "real_only.trained_model", "gan.trained_model")}
