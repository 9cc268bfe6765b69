"""training nodes: learning, crops and song-level prediction, protocol, baselines, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.data.corpus import Corpus
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.models.song_prediction import predict_songs
from music_emotion.pipelines.training import nodes
from music_emotion.study import arm_fitting, evaluation, metrics
from music_emotion.study.training_config import budget_steps
from music_emotion.study.training_loop import HISTORY_COLUMNS, TrainingConfig
from tests.conf_params import mel_config, parameters

from .conftest import N_MELS, brightness_spectrograms

REAL_ONLY = {"model": "vit"}
GAN = {"model": "vit", "synthetic": True}


def train(real_data, params, arm=REAL_ONLY, synthetic=None, seed=42):
    mel, labels, splits = real_data
    kwargs = dict(zip(("synthetic_spectrograms", "synthetic_labels"), synthetic, strict=True)) if synthetic else {}
    return arm_fitting.train_arm(mel, labels, splits, arm, params, seed, "cpu", "test", **kwargs)


def toy_corpus(n: int, seed: int, values_fn=brightness_spectrograms, **meta):
    rng = np.random.default_rng(seed)
    ids = list(range(n))
    targets = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    extraction = mel_config(sample_rate=22050, hop_length=512, n_mels=N_MELS, top_db=80.0, ref="max",
                            duration=30.0).to_dict()
    mel = SpectrogramSet(ids=ids, values=values_fn(targets, seed + 1), meta={"extraction": extraction, **meta})
    labels = pd.DataFrame({"song_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1]})
    cut = [int(n * 0.7), int(n * 0.85)]
    return mel, labels, {"train": ids[: cut[0]], "val": ids[cut[0] : cut[1]], "test": ids[cut[1] :]}


def test_vit_learns_a_learnable_toy_set_and_beats_the_mean(tiny_params):
    """Level of each mel half = (valence, arousal) in every frame: a ViT trained on crops must track it."""
    mel, labels, splits = toy_corpus(120, 7)
    tiny_params["optimisation"].update(epochs=40, learning_rate=3e-3)
    model, history = train((mel, labels, splits), tiny_params)
    mean = arm_fitting.fit_mean_baseline(labels, splits)
    predictions, report = nodes.evaluate_test_set(mel, labels, splits, tiny_params, 0, "cpu", vit=model, mean=mean)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    for target in metrics.TARGETS:
        assert report["vit"][target]["ccc"]["value"] > 0.8
        assert report["mean"][target]["ccc"]["value"] == 0.0
        assert report["vit"][target]["rmse"]["value"] < report["mean"][target]["rmse"]["value"]


def narrow_band_contrast(targets: np.ndarray, seed: int) -> np.ndarray:
    """64 x 64 spectrograms whose labels live only in fine detail around -40 dB: valence is the amplitude of
    a checkerboard (sign flips every bin and every frame) in mel bins 16-23, arousal the amplitude of another
    fine pattern (sign flips every bin and every second frame) in bins 40-47. Averaging a few neighbouring
    bins and frames, as a resize to a tiny image does, cancels both; native 8 x 8 patches see them."""
    rng = np.random.default_rng(seed)
    values = np.full((len(targets), 64, 64), -40.0, dtype=np.float32) + rng.normal(0, 4.0, (len(targets), 64, 64))
    bins, frames = np.arange(8)[:, None], np.arange(64)[None, :]
    checkerboard = np.where((bins + frames) % 2 == 0, 1.0, -1.0)
    stripes = np.where(bins % 2 == 0, 1.0, -1.0) * np.where((frames // 2) % 2 == 0, 1.0, -1.0)
    values[:, 16:24, :] += (15.0 * (targets[:, 0] + 1))[:, None, None] * checkerboard
    values[:, 40:48, :] += (15.0 * (targets[:, 1] + 1))[:, None, None] * stripes
    return values.astype(np.float32)


def test_native_input_learns_a_narrow_band_that_resizing_erases():
    """A test that would fail if `native` were silently resized: the label is a one-bin, one-frame flicker."""
    mel, labels, splits = toy_corpus(260, 3, narrow_band_contrast)
    mel.meta["extraction"]["n_mels"] = 64
    scores = {}
    for mode in ("native", "resize"):
        params = parameters("training", **{
            "model.checkpoint": None, "model.input_mode": mode, "model.patch_stride": 8,
            "model.vit_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                 "intermediate_size": 64, "patch_size": 8, "image_size": 16},
            "model.head_hidden_size": 32, "model.head_dropout": 0.0, "model.head_pooling": "mean",
            "model.window_seconds": 64 * 512 / 22050, "model.window_stride_seconds": 1.0,
            "optimisation.epochs": 30, "optimisation.batch_size": 16, "optimisation.learning_rate": 3e-3,
            "optimisation.warmup_fraction": 0.0, "optimisation.budget": "epochs", "evaluation.n_resamples": 10})
        torch.manual_seed(0)
        model, _ = train((mel, labels, splits), params, seed=0)
        _, report = nodes.evaluate_test_set(mel, labels, splits, params, 0, "cpu", vit=model)
        scores[mode] = min(report["vit"][t]["ccc"]["value"] for t in metrics.TARGETS)
    assert scores["native"] >= 0.8, scores
    assert scores["resize"] < scores["native"] - 0.3, scores


def test_history_has_the_contract_columns_and_one_best_epoch(real_data, tiny_params):
    model, history = train(real_data, tiny_params)
    assert list(history.columns) == HISTORY_COLUMNS
    assert list(history["epoch"]) == [1, 2] and list(history["step"]) == [3, 6]  # 24 train songs, batches of 8
    assert history["is_best"].sum() == 1
    best = history.loc[history["is_best"]].iloc[0]
    assert best["val_ccc_mean"] == history["val_ccc_mean"].max()
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_validation_scores_song_level_means_of_every_window(real_data, tiny_params):
    """The val CCC in the history is the CCC of per-song means of all windows (the test/inference path)."""
    mel, labels, splits = real_data
    tiny_params["optimisation"]["epochs"] = 1
    model, history = train(real_data, tiny_params)
    val = Corpus(mel, labels, splits).val
    predicted = predict_songs(model, mel.values, val.rows, val.valid_frames, 5, torch.device("cpu"))
    for position in range(len(val)):
        mine = predicted.windows[predicted.window_song == position]
        np.testing.assert_allclose(predicted.songs[position], mine.mean(axis=0), rtol=1e-6)
    assert len(predicted.windows) == len(val) * 3  # 40 frames, 22-frame windows 11 apart: starts 0, 11, 18
    assert history["val_ccc_valence"].iloc[0] == pytest.approx(metrics.ccc(val.targets[:, 0], predicted.songs[:, 0]))


def test_same_seed_same_result_and_the_gan_arm_sees_synthetic(real_data, synthetic_data, tiny_params):
    _, first = train(real_data, tiny_params)
    _, again = train(real_data, tiny_params)
    pd.testing.assert_frame_equal(first.drop(columns=["train_windows_per_s", "seconds"]),
                                  again.drop(columns=["train_windows_per_s", "seconds"]))
    _, other_seed = train(real_data, tiny_params, seed=7)
    assert not np.allclose(other_seed["train_loss"], first["train_loss"])
    _, augmented = train(real_data, tiny_params, GAN, synthetic_data)
    assert not np.allclose(augmented["train_loss"], first["train_loss"])


@pytest.mark.parametrize("augmentation", ["specaugment", "mixup", "cmixup"])
def test_augmentation_arms_change_training_but_not_what_is_validated(real_data, tiny_params, augmentation):
    _, plain = train(real_data, tiny_params)
    _, augmented = train(real_data, tiny_params, {"model": "vit", "augmentations": [augmentation]})
    assert not np.allclose(plain["train_loss"], augmented["train_loss"])
    assert len(plain) == len(augmented)


def test_dataset_normalisation_is_computed_from_train_songs_only(real_data, tiny_params):
    mel, labels, splits = real_data
    model, _ = train(real_data, tiny_params)
    train_values = mel.values[mel.indices_of(splits["train"])]
    assert model.config["input"]["db_mean"] == pytest.approx(float(train_values.mean()), rel=1e-5)
    assert model.config["input"]["db_std"] == pytest.approx(float(train_values.std()), rel=1e-4)


def test_unknown_augmentation_names_the_parameter(real_data, tiny_params):
    with pytest.raises(ValueError, match=r"arms.test.augmentations names \['cutmix'\]"):
        train(real_data, tiny_params, {"model": "vit", "augmentations": ["cutmix"]})


def test_empty_split_is_a_clear_error(real_data, tiny_params):
    mel, labels, splits = real_data
    with pytest.raises(ValueError, match=r"song_splits\['val'\] is empty"):
        train((mel, labels, {**splits, "val": []}), tiny_params)


def test_synthetic_count_mismatch_is_a_clear_error(real_data, synthetic_data, tiny_params):
    synthetic, synthetic_labels = synthetic_data
    with pytest.raises(ValueError, match="24 samples but synthetic_labels has 23 rows"):
        train(real_data, tiny_params, GAN, (synthetic, synthetic_labels.iloc[:-1]))


def test_synthetic_windows_shorter_than_the_vit_window_are_refused(real_data, synthetic_data, tiny_params):
    synthetic, synthetic_labels = synthetic_data
    short = SpectrogramSet(ids=synthetic.ids, values=np.ascontiguousarray(synthetic.values[:, :, :10]),
                           meta=synthetic.meta)
    with pytest.raises(ValueError, match="gan_augmentation.window_seconds"):
        train(real_data, tiny_params, GAN, (short, synthetic_labels))


def test_song_without_label_is_a_clear_error(real_data, tiny_params):
    mel, labels, splits = real_data
    with pytest.raises(ValueError, match="no row in emotion_labels"):
        train((mel, labels[labels.song_id != splits["train"][0]], splits), tiny_params)


def test_nan_loss_stops_naming_the_epoch(real_data, tiny_params):
    mel, labels, splits = real_data
    values = np.array(mel.values)
    values[mel.indices_of(splits["train"]), 0, :] = np.nan
    broken = SpectrogramSet(ids=mel.ids, values=values, meta=mel.meta)
    tiny_params["model"]["normalisation"] = "db_range"  # dataset statistics would already be NaN
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train((broken, labels, splits), tiny_params)


def test_ridge_baseline_is_fit_on_train_and_picks_alpha_on_val(real_data):
    mel, labels, splits = real_data
    ridge = arm_fitting.fit_ridge_baseline(mel, labels, splits, {"alphas": [0.01, 1e6]})
    assert ridge["alpha"] == 0.01 and ridge["n_train_songs"] == len(splits["train"])
    assert set(ridge["val_ccc_mean_by_alpha"]) == {"0.01", "1000000.0"}
    test = Corpus(mel, labels, splits).test
    predicted = evaluation.predict_part(ridge, mel, test, {}, "cpu")
    assert metrics.ccc(test.targets[:, 0], predicted[:, 0]) > 0.8


def test_mean_baseline_is_the_train_mean(real_data):
    mel, labels, splits = real_data
    baseline = arm_fitting.fit_mean_baseline(labels, splits)
    expected = labels.set_index("song_id").loc[splits["train"], "valence"].mean()
    assert baseline["valence"] == pytest.approx(expected)


def test_early_stopping_stops_when_val_ccc_stops_improving(real_data, tiny_params):
    tiny_params["optimisation"].update(epochs=10, learning_rate=0.0, early_stopping_patience=1)
    _, history = train(real_data, tiny_params)
    assert list(history["epoch"]) == [1, 2]  # lr 0: epoch 2 is no better than epoch 1
    assert list(history["is_best"]) == [True, False]


def test_synthetic_ids_that_collide_with_real_songs_are_rejected(real_data, synthetic_data, tiny_params):
    mel, labels, splits = real_data
    synthetic, synthetic_labels = synthetic_data
    clash = splits["test"][0]
    renamed = SpectrogramSet(ids=[clash, *synthetic.ids[1:]], values=synthetic.values, meta=synthetic.meta)
    relabelled = synthetic_labels.assign(sample_id=[clash, *synthetic.ids[1:]])
    with pytest.raises(ValueError, match="collide with real song ids"):
        train(real_data, tiny_params, GAN, (renamed, relabelled))


def test_device_cache_path_trains_exactly_like_the_memory_map_path(real_data, synthetic_data, tiny_params):
    """`device_cache` (the CUDA fast path) exercised on CPU: same crops, same batches, same result."""
    _, streamed = train(real_data, tiny_params, GAN, synthetic_data)
    tiny_params["optimisation"]["device_cache"] = True
    _, cached = train(real_data, tiny_params, GAN, synthetic_data)
    columns = [c for c in streamed.columns if c not in ("train_windows_per_s", "seconds")]
    pd.testing.assert_frame_equal(streamed[columns], cached[columns])


def test_synthetic_set_from_a_gan_that_saw_val_or_test_songs_is_refused(real_data, synthetic_data, tiny_params):
    """E.g. data_processing re-run with another seed, then training on the old GAN's samples."""
    mel, labels, splits = real_data
    synthetic, synthetic_labels = synthetic_data
    leaky = SpectrogramSet(ids=synthetic.ids, values=synthetic.values,
                           meta={**synthetic.meta, "gan_train_song_ids": splits["train"] + splits["test"][:1]})
    with pytest.raises(ValueError, match="not in the current TRAIN split"):
        train(real_data, tiny_params, GAN, (leaky, synthetic_labels))
    honest = SpectrogramSet(ids=synthetic.ids, values=synthetic.values,
                            meta={**synthetic.meta, "gan_train_song_ids": splits["train"]})
    _, history = train(real_data, tiny_params, GAN, (honest, synthetic_labels))
    assert len(history) == tiny_params["optimisation"]["epochs"]


def test_steps_budget_gives_every_arm_the_optimiser_steps_of_real_only(real_data, synthetic_data, tiny_params):
    tiny_params["optimisation"].update({"epochs": 4, "batch_size": 8, "budget": "steps"})
    _, real_history = train(real_data, tiny_params)
    _, augmented_history = train(real_data, tiny_params, GAN, synthetic_data)
    # 24 real train songs = 3 steps per epoch; 24 real + 24 synthetic = 6: 4 x 3 steps = 2 epochs of 6
    assert len(real_history) == 4 and len(augmented_history) == 2
    assert real_history["step"].iloc[-1] == augmented_history["step"].iloc[-1] == 12
    tiny_params["optimisation"]["budget"] = "epochs"
    _, same_epochs = train(real_data, tiny_params, GAN, synthetic_data)
    assert len(same_epochs) == 4


def test_steps_budget_ends_a_pass_part_way_rather_than_round_up(real_data, synthetic_data, tiny_params):
    """The DEAM rehearsal's `epochs: 1`: whole passes gave the real + synthetic arm 279 steps to real_only's 79."""
    tiny_params["optimisation"].update({"epochs": 1, "batch_size": 8, "budget": "steps"})
    _, real_history = train(real_data, tiny_params)
    _, augmented_history = train(real_data, tiny_params, GAN, synthetic_data)
    # 24 real songs = 3 steps; 24 real + 24 synthetic = 6 steps a pass, of which the budget takes 3
    assert real_history["step"].tolist() == augmented_history["step"].tolist() == [3]
    assert np.isfinite(augmented_history["train_loss"]).all()


def test_budget_arithmetic_and_validation():
    config = TrainingConfig.from_params(parameters("training.optimisation", epochs=50, batch_size=16, budget="steps"))
    # DEAM-sized: 1,261 real train songs (79 steps) + 3,200 synthetic (279 steps per epoch)
    assert budget_steps(config, 1261, 1261 + 3200) == budget_steps(config, 1261, 1261) == 50 * 79
    by_epochs = TrainingConfig.from_params(parameters("training.optimisation", epochs=50, batch_size=16,
                                                      budget="epochs"))
    assert budget_steps(by_epochs, 1261, 4461) == 50 * 279
    with pytest.raises(ValueError, match="budget"):
        TrainingConfig.from_params(parameters("training.optimisation", budget="time"))


def test_absolute_db_spectrograms_map_by_their_train_range(real_data, tiny_params):
    """With `ref: absolute` dB values are not in [-top_db, 0]: the db_range normalisation maps the train range."""
    mel, labels, splits = real_data
    extraction = {**mel.meta["extraction"], "ref": "absolute"}
    shifted = SpectrogramSet(ids=mel.ids, values=mel.values + 30.0, meta={**mel.meta, "extraction": extraction})
    tiny_params["model"]["normalisation"] = "db_range"
    model, _ = train((shifted, labels, splits), tiny_params)
    train_rows = shifted.indices_of(splits["train"])
    low, high = model.config["input"]["db_range"]
    assert low == pytest.approx(float(shifted.values[train_rows].min()))
    assert high == pytest.approx(float(shifted.values[train_rows].max()))
    assert high > 0  # a fixed [-80, 0] would have clamped every value above 0 dB to white


def test_songs_shorter_than_a_window_are_padded_and_named_never_dropped(real_data, tiny_params, caplog):
    mel, labels, splits = real_data
    valid = [40] * len(mel)
    short_song = splits["train"][2]
    valid[mel.indices_of([short_song])[0]] = 10  # 10 real frames, 22-frame windows
    padded = SpectrogramSet(mel.ids, mel.values, {**mel.meta, "valid_frames": valid})
    with caplog.at_level("WARNING"):
        _, history = train((padded, labels, splits), tiny_params)
    assert "1 TRAIN song(s) are shorter than one window (22 frames)" in caplog.text and str(short_song) in caplog.text
    assert len(history) == tiny_params["optimisation"]["epochs"]  # trained on it, not dropped
