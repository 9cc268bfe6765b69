"""vit_training nodes: learning, protocol, baselines, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from music_emotion import metrics
from music_emotion.pipelines.vit_training import nodes
from music_emotion.pipelines.vit_training.training import HISTORY_COLUMNS
from music_emotion.spectrograms import SpectrogramSet

from .conftest import brightness_spectrograms


def test_vit_learns_a_learnable_toy_set_and_beats_the_mean(tiny_params):
    """Mean level of each half of the spectrogram = (valence, arousal): a trained ViT must track it."""
    rng = np.random.default_rng(7)
    ids = list(range(160))
    targets = rng.uniform(-1, 1, size=(160, 2)).astype(np.float32)
    mel = SpectrogramSet(ids=ids, values=brightness_spectrograms(targets, 8), meta={})
    labels = pd.DataFrame({"song_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1]})
    splits = {"train": ids[:112], "val": ids[112:136], "test": ids[136:]}
    tiny_params["training"].update(epochs=40, batch_size=16, learning_rate=3e-3)

    model, history = nodes.train_vit_real_only(mel, labels, splits, tiny_params, 0, "cpu")
    mean = nodes.fit_mean_baseline(labels, splits)
    ridge = nodes.fit_ridge_baseline(mel, labels, splits, tiny_params["baselines"]["ridge"])
    predictions, report = nodes.evaluate_test_set(model, model, mean, ridge, mel, labels, splits, tiny_params, 0, "cpu")

    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    for target in metrics.TARGETS:
        assert report["real_only"][target]["ccc"]["value"] > 0.7
        assert report["mean_baseline"][target]["ccc"]["value"] == 0.0
        assert report["real_only"][target]["rmse"]["value"] < report["mean_baseline"][target]["rmse"]["value"]


def test_history_has_the_contract_columns_and_one_best_epoch(real_data, tiny_params):
    model, history = nodes.train_vit_real_only(*real_data, tiny_params, 42, "auto")
    assert list(history.columns) == HISTORY_COLUMNS
    assert list(history["epoch"]) == [1, 2]
    assert history["is_best"].sum() == 1
    best = history.loc[history["is_best"]].iloc[0]
    assert best["val_ccc_mean"] == history["val_ccc_mean"].max()
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_same_seed_same_result_and_augmented_sees_synthetic(real_data, synthetic_data, tiny_params):
    _, first = nodes.train_vit_real_only(*real_data, tiny_params, 42, "cpu")
    _, again = nodes.train_vit_real_only(*real_data, tiny_params, 42, "cpu")
    pd.testing.assert_frame_equal(
        first.drop(columns="train_images_per_s"), again.drop(columns="train_images_per_s")
    )
    _, augmented = nodes.train_vit_augmented(*real_data, *synthetic_data, tiny_params, 42, "cpu")
    assert not np.allclose(augmented["train_loss"], first["train_loss"])


def test_empty_split_is_a_clear_error(real_data, tiny_params):
    mel, labels, splits = real_data
    with pytest.raises(ValueError, match=r"song_splits\['val'\] is empty"):
        nodes.train_vit_real_only(mel, labels, {**splits, "val": []}, tiny_params, 42, "cpu")


def test_synthetic_count_mismatch_is_a_clear_error(real_data, synthetic_data, tiny_params):
    synthetic, synthetic_labels = synthetic_data
    with pytest.raises(ValueError, match="24 samples but synthetic_labels has 23 rows"):
        nodes.train_vit_augmented(*real_data, synthetic, synthetic_labels.iloc[:-1], tiny_params, 42, "cpu")


def test_song_without_label_is_a_clear_error(real_data, tiny_params):
    mel, labels, splits = real_data
    with pytest.raises(ValueError, match="no row in emotion_labels"):
        nodes.train_vit_real_only(mel, labels[labels.song_id != splits["train"][0]], splits, tiny_params, 42, "cpu")


def test_nan_loss_stops_naming_the_epoch(real_data, tiny_params):
    mel, labels, splits = real_data
    values = np.array(mel.values)
    values[mel.indices_of([splits["train"][3]])[0], 0, 0] = np.nan
    broken = SpectrogramSet(ids=mel.ids, values=values, meta=mel.meta)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        nodes.train_vit_real_only(broken, labels, splits, tiny_params, 42, "cpu")


def test_ridge_baseline_is_fit_on_train_and_picks_alpha_on_val(real_data):
    mel, labels, splits = real_data
    ridge = nodes.fit_ridge_baseline(mel, labels, splits, {"alphas": [0.01, 1e6]})
    assert ridge["alpha"] == 0.01 and ridge["n_train_songs"] == len(splits["train"])
    assert set(ridge["val_ccc_mean_by_alpha"]) == {"0.01", "1000000.0"}
    features = nodes._pooled_features(mel, splits["test"])
    y_test = labels.set_index("song_id").loc[splits["test"], ["valence", "arousal"]].to_numpy()
    assert metrics.ccc(y_test[:, 0], nodes.predict_ridge_baseline(ridge, features)[:, 0]) > 0.8


def test_mean_baseline_is_the_train_mean(real_data):
    mel, labels, splits = real_data
    baseline = nodes.fit_mean_baseline(labels, splits)
    expected = labels.set_index("song_id").loc[splits["train"], "valence"].mean()
    assert baseline["valence"] == pytest.approx(expected)


def test_early_stopping_stops_when_val_ccc_stops_improving(real_data, tiny_params):
    tiny_params["training"].update(epochs=10, learning_rate=0.0, early_stopping_patience=1)
    _, history = nodes.train_vit_real_only(*real_data, tiny_params, 42, "cpu")
    assert list(history["epoch"]) == [1, 2]  # lr 0: epoch 2 is no better than epoch 1
    assert list(history["is_best"]) == [True, False]


def test_synthetic_ids_that_collide_with_real_songs_are_rejected(real_data, synthetic_data, tiny_params):
    mel, labels, splits = real_data
    synthetic, synthetic_labels = synthetic_data
    clash = splits["test"][0]
    renamed = SpectrogramSet(ids=[clash, *synthetic.ids[1:]], values=synthetic.values, meta=synthetic.meta)
    relabelled = synthetic_labels.assign(sample_id=[clash, *synthetic.ids[1:]])
    with pytest.raises(ValueError, match="collide with real song ids"):
        nodes.train_vit_augmented(mel, labels, splits, renamed, relabelled, tiny_params, 42, "cpu")


def test_device_cache_path_trains_exactly_like_the_memory_map_path(real_data, synthetic_data, tiny_params):
    """`device_cache` (the CUDA fast path) exercised on CPU: same batches, same result."""
    _, streamed = nodes.train_vit_augmented(*real_data, *synthetic_data, tiny_params, 42, "cpu")
    tiny_params["training"]["device_cache"] = True
    _, cached = nodes.train_vit_augmented(*real_data, *synthetic_data, tiny_params, 42, "cpu")
    columns = [c for c in streamed.columns if c != "train_images_per_s"]
    pd.testing.assert_frame_equal(streamed[columns], cached[columns])


def test_synthetic_set_from_a_gan_that_saw_val_or_test_songs_is_refused(real_data, synthetic_data, tiny_params):
    """E.g. data_processing re-run with another seed, then vit_training on the old GAN's samples."""
    mel, labels, splits = real_data
    synthetic, synthetic_labels = synthetic_data
    leaky = SpectrogramSet(ids=synthetic.ids, values=synthetic.values,
                           meta={**synthetic.meta, "gan_train_song_ids": splits["train"] + splits["test"][:1]})
    with pytest.raises(ValueError, match="not in the current TRAIN split"):
        nodes.train_vit_augmented(mel, labels, splits, leaky, synthetic_labels, tiny_params, 42, "cpu")
    honest = SpectrogramSet(ids=synthetic.ids, values=synthetic.values,
                            meta={**synthetic.meta, "gan_train_song_ids": splits["train"]})
    model, history = nodes.train_vit_augmented(mel, labels, splits, honest, synthetic_labels, tiny_params, 42, "cpu")
    assert len(history) == tiny_params["training"]["epochs"]


def test_steps_budget_gives_augmented_the_optimiser_steps_of_real_only(real_data, synthetic_data, tiny_params):
    tiny_params["training"].update({"epochs": 4, "batch_size": 8, "budget": "steps"})
    _, real_history = nodes.train_vit_real_only(*real_data, tiny_params, 42, "cpu")
    _, augmented_history = nodes.train_vit_augmented(*real_data, *synthetic_data, tiny_params, 42, "cpu")
    # 24 real train songs = 3 steps per epoch; 24 real + 24 synthetic = 6: 4 x 3 steps = 2 epochs of 6
    assert len(real_history) == 4 and len(augmented_history) == 2
    tiny_params["training"]["budget"] = "epochs"
    _, same_epochs = nodes.train_vit_augmented(*real_data, *synthetic_data, tiny_params, 42, "cpu")
    assert len(same_epochs) == 4


def test_budget_arithmetic_and_validation():
    from music_emotion.pipelines.vit_training.training import TrainingConfig, epochs_for_budget

    config = TrainingConfig.from_params({"epochs": 50, "batch_size": 16, "budget": "steps"})
    # DEAM-sized: 1,261 real train songs (79 steps) + 3,200 synthetic (279 steps per epoch)
    assert epochs_for_budget(config, 1261, 1261 + 3200) == round(50 * 79 / 279) == 14
    assert epochs_for_budget(config, 1261, 1261) == 50
    assert epochs_for_budget(TrainingConfig.from_params({"epochs": 50}), 1261, 4461) == 50
    assert epochs_for_budget(TrainingConfig.from_params({"epochs": 1, "budget": "steps"}), 10, 10_000) == 1
    with pytest.raises(ValueError, match="budget"):
        TrainingConfig.from_params({"budget": "time"})


def test_absolute_db_spectrograms_map_by_their_train_range(real_data, tiny_params):
    """With `ref: absolute` dB values are not in [-top_db, 0]: the ViT (like the GAN) maps the train range."""
    mel, labels, splits = real_data
    extraction = {**mel.meta["extraction"], "ref": "absolute"}
    shifted = SpectrogramSet(ids=mel.ids, values=mel.values + 30.0, meta={**mel.meta, "extraction": extraction})
    model, _ = nodes.train_vit_real_only(shifted, labels, splits, tiny_params, 42, "cpu")
    train_rows = shifted.indices_of(splits["train"])
    low, high = model.config["input"]["db_range"]
    assert low == pytest.approx(float(shifted.values[train_rows].min()))
    assert high == pytest.approx(float(shifted.values[train_rows].max()))
    assert high > 0  # the old fixed [-80, 0] would have clamped every value above 0 dB to white
