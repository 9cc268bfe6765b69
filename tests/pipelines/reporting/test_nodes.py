"""Reporting nodes on small fake inputs shaped like the data contracts."""

from __future__ import annotations

import hashlib
import io
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from music_emotion.pipelines.reporting import nodes
from music_emotion.pipelines.reporting.nodes import nearest_synthetic, pick_spread_ids
from music_emotion.report.archive import archive_members, build_report_archive
from music_emotion.report.summary import summarise_metrics
from music_emotion.report.tables import format_with_ci
from music_emotion.study.lineage import LineageError
from music_emotion.study.metrics import flatten_numeric
from tests.pipelines.reporting.conftest import TinyModel

from .conftest import ARMS, MODELS


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _titles(figure: Figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes if ax.get_title()]


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    """Nodes must not leave figures in pyplot's global registry (they would pile up over a run)."""
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a reporting node created a pyplot-managed figure"


# ---------------------------------------------------------------------------- example choice
def test_pick_spread_ids_returns_distinct_songs_in_every_quadrant():
    ids = np.arange(100)
    grid = np.linspace(-0.9, 0.9, 10)
    candidates = pd.DataFrame({"valence": np.repeat(grid, 10), "arousal": np.tile(grid, 10)}, index=ids)
    chosen = pick_spread_ids(candidates, 4, radius=0.5)
    assert len(set(chosen)) == 4
    quadrants = {(np.sign(candidates.loc[i, "valence"]), np.sign(candidates.loc[i, "arousal"])) for i in chosen}
    assert quadrants == {(1, 1), (-1, 1), (-1, -1), (1, -1)}


def test_pick_spread_ids_with_fewer_songs_than_examples():
    candidates = pd.DataFrame({"valence": [0.1, -0.2], "arousal": [0.3, 0.0]}, index=[7, 9])
    assert sorted(pick_spread_ids(candidates, 5, radius=0.5)) == [7, 9]


def test_nearest_synthetic_matches_condition():
    real = pd.DataFrame({"valence": [0.9, -0.9], "arousal": [0.9, -0.9]})
    synthetic = pd.DataFrame({"sample_id": ["gan-a", "gan-b", "gan-c"],
                              "valence": [-0.8, 0.0, 0.85], "arousal": [-0.7, 0.0, 0.95]})
    assert nearest_synthetic(real, synthetic) == ["gan-c", "gan-a"]


# ----------------------------------------------------------------------------------- figures
def test_spectrogram_examples(mel_spectrograms, emotion_labels, song_splits, reporting_params):
    figure = nodes.plot_spectrogram_examples(mel_spectrograms, emotion_labels, song_splits, reporting_params)
    titles = _titles(figure)
    assert len(titles) == reporting_params["n_spectrogram_examples"]
    assert all("valence" in t and "arousal" in t for t in titles)
    image_axes = [ax for ax in figure.axes if ax.images]
    assert image_axes[0].get_xlabel() == "time (s)"
    assert "Hz" in image_axes[0].get_ylabel()
    # one colour bar labelled in dB; time axis spans the clip (44 frames x 512 / 22050 s)
    assert any("dB" in ax.get_ylabel() for ax in figure.axes if not ax.images)
    assert image_axes[0].images[0].get_extent()[1] == pytest.approx(44 * 512 / 22050)
    assert _png(figure).startswith(b"\x89PNG")


def test_real_vs_synthetic_pairs_nearest_conditions(
    mel_spectrograms, emotion_labels, song_splits, synthetic_spectrograms, synthetic_labels, reporting_params
):
    figure = nodes.plot_real_vs_synthetic(mel_spectrograms, emotion_labels, song_splits, reporting_params,
                                          gan_spectrograms=synthetic_spectrograms, gan_labels=synthetic_labels)
    titles = _titles(figure)
    n = reporting_params["n_real_vs_synthetic"]
    assert sum(t.startswith("real song") for t in titles) == n
    assert sum(t.startswith("synthetic gan-") for t in titles) == n
    # real examples come from the train split only
    real_ids = [int(t.split()[2].rstrip(":")) for t in titles if t.startswith("real song")]
    assert set(real_ids) <= set(song_splits["train"])


def test_real_vs_synthetic_shows_every_generator_at_its_nearest_condition(
    mel_spectrograms, emotion_labels, song_splits, synthetic_spectrograms, synthetic_labels, reporting_params
):
    # a second generator whose conditions are the GAN's mirrored: its partner of a real song is its own nearest
    flow_labels = synthetic_labels.assign(sample_id=synthetic_labels["sample_id"].str.replace("gan", "diffusion"),
                                          valence=-synthetic_labels["valence"])
    flow = type(synthetic_spectrograms)(ids=list(flow_labels["sample_id"]), values=synthetic_spectrograms.values,
                                        meta=synthetic_spectrograms.meta)
    figure = nodes.plot_real_vs_synthetic(mel_spectrograms, emotion_labels, song_splits, reporting_params,
                                          gan_spectrograms=synthetic_spectrograms, gan_labels=synthetic_labels,
                                          diffusion_spectrograms=flow, diffusion_labels=flow_labels)
    titles = _titles(figure)
    assert len(titles) == 3 * reporting_params["n_real_vs_synthetic"]  # real | gan | diffusion per row
    assert "gan, diffusion" in figure.get_suptitle()
    real = [int(t.split()[2].rstrip(":")) for t in titles[0::3]]
    points = emotion_labels.drop_duplicates("song_id").set_index("song_id").loc[real, ["valence", "arousal"]]
    assert [t.split()[1].rstrip(":") for t in titles[1::3]] == nearest_synthetic(points, synthetic_labels)
    shown = [t.split()[1].rstrip(":") for t in titles[2::3]]
    assert shown == nearest_synthetic(points, flow_labels)
    assert shown != [i.replace("gan", "diffusion") for i in nearest_synthetic(points, synthetic_labels)]


def test_real_vs_synthetic_refuses_empty_synthetic_set(
    mel_spectrograms, emotion_labels, song_splits, synthetic_spectrograms, synthetic_labels, reporting_params
):
    with pytest.raises(ValueError, match="synthetic_labels.*empty"):
        nodes.plot_real_vs_synthetic(mel_spectrograms, emotion_labels, song_splits, reporting_params,
                                     gan_spectrograms=synthetic_spectrograms, gan_labels=synthetic_labels.iloc[:0])


def test_generator_training_curves_show_conditioning_beside_the_losses(gan_history, reporting_params):
    figure = nodes.plot_generator_training_curves(reporting_params, gan=gan_history)
    losses, aux, conditioning, realism = figure.axes
    labels = [line.get_label() for line in losses.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["generator (adversarial + auxiliary)", "discriminator"]
    np.testing.assert_allclose(losses.get_lines()[0].get_ydata(), gan_history["generator_loss"])
    curves = [line for line in conditioning.get_lines() if line.get_label() in ("valence", "arousal")]
    np.testing.assert_allclose(curves[0].get_ydata(), gan_history["conditioning_ccc_valence"])
    assert conditioning.get_xlabel() == "optimiser step" and "kept step 400" in losses.get_title()
    # the notebook recipe has no auxiliary head: its history lacks those columns and the panel is left out
    without_aux = nodes.plot_generator_training_curves(
        reporting_params, gan=gan_history.drop(columns=["aux_mse_real", "aux_mse_fake"]))
    assert len(without_aux.axes) == 3


def test_generator_training_curves_give_the_flow_its_own_row(gan_history, reporting_params):
    steps = np.arange(1, 4) * 50
    flow_history = pd.DataFrame({"step": steps, "epoch": steps / 10, "flow_loss": 1.0 / steps,
                                 "learning_rate": 1e-3 * np.ones(3)})
    figure = nodes.plot_generator_training_curves(reporting_params, gan=gan_history, diffusion=flow_history)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(figure.axes) == 8 and len(visible) == 4 + 2  # the GAN's four panels, the flow's two
    flow_loss = next(ax for ax in visible if "flow matching: Flow-matching loss" in ax.get_title())
    np.testing.assert_allclose(flow_loss.get_lines()[0].get_ydata(), flow_history["flow_loss"])
    assert "conditional flow matching 150 steps" in figure.get_suptitle()
    with pytest.raises(ValueError, match="'diffusion_history' lacks column.*flow_loss"):
        nodes.plot_generator_training_curves(reporting_params, gan=gan_history,
                                             diffusion=flow_history.drop(columns="flow_loss"))


def test_generator_training_curves_names_missing_column(gan_history, reporting_params):
    with pytest.raises(ValueError, match="'gan_history' lacks column.*discriminator_loss"):
        nodes.plot_generator_training_curves(reporting_params, gan=gan_history.drop(columns="discriminator_loss"))


def test_augmented_dataset_comparison_shows_expansion(emotion_labels, song_splits, synthetic_labels, reporting_params):
    figure = nodes.plot_augmented_dataset_comparison(emotion_labels, song_splits, synthetic_labels, reporting_params)
    titles = _titles(figure)
    expansion = (26 + 12) / 26
    assert any(f"x{expansion:.2f}" in t for t in titles)
    counts_ax = figure.axes[3]
    heights = sorted(p.get_height() for p in counts_ax.patches)
    assert heights == sorted([26, 6, 6, 12])


def test_training_curves_both_models_train_and_val(vit_histories, reporting_params):
    figure = nodes.plot_training_curves(reporting_params, ARMS, **vit_histories)
    loss_ax = figure.axes[0]
    colours = {line.get_color() for line in loss_ax.get_lines()}
    assert colours == {ARMS[m]["colour"] for m in ("real_only", "gan")}
    styles = {line.get_linestyle() for line in loss_ax.get_lines() if line.get_marker() in ("None", "")}
    assert styles == {"-", "--"}
    legend_texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "ViT, real data only" in legend_texts and "validation" in legend_texts
    assert {ax.get_xlabel() for ax in figure.axes} == {"epoch"}


def test_prediction_scatter_one_column_per_model_in_order(test_predictions, reporting_params):
    shuffled = test_predictions.sample(frac=1.0, random_state=1)
    figure = nodes.plot_prediction_scatter(shuffled, reporting_params, ARMS)
    assert len(figure.axes) == 2 * len(MODELS)
    first_row = [ax.get_title().splitlines()[0] for ax in figure.axes[: len(MODELS)]]
    assert first_row[0] == "mean baseline: valence"
    assert first_row[2] == "ViT, real data only: valence"
    # each panel's colour is its model's colour
    assert figure.axes[3].collections[0].get_facecolor()[0][:3] == pytest.approx((0xD6 / 255, 0x27 / 255, 0x28 / 255))


def test_prediction_nodes_name_missing_columns(test_predictions, reporting_params):
    with pytest.raises(ValueError, match="'test_predictions' lacks column.*arousal_pred"):
        nodes.plot_va_space_comparison(test_predictions.drop(columns="arousal_pred"), reporting_params, ARMS)


def test_va_space_comparison_plots_true_and_predicted_points(test_predictions, reporting_params):
    figure = nodes.plot_va_space_comparison(test_predictions, reporting_params, ARMS)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == len(MODELS)
    ax = panels[-1]
    links, true_points, predicted_points = ax.collections[:3]
    assert len(links.get_segments()) == len(test_predictions[test_predictions["model"] == "gan"])
    gan = test_predictions[test_predictions["model"] == "gan"]
    np.testing.assert_allclose(predicted_points.get_offsets(), gan[["valence_pred", "arousal_pred"]])
    assert ax.get_xlabel().startswith("valence") and ax.get_ylabel().startswith("arousal")


def _many_predictions(n_models: int, n_songs: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"model": np.repeat([f"arm{i}" for i in range(n_models)], n_songs),
                          "song_id": np.tile(np.arange(n_songs), n_models)})
    for column in ("valence_true", "arousal_true", "valence_pred", "arousal_pred"):
        frame[column] = rng.uniform(-1, 1, len(frame))
    return frame


def test_va_space_wraps_seven_arms_into_rows_and_thins_points_at_deam_size():
    """At DEAM size (7 arms, 270 test songs) one row of panels was 3,058 x 506 px of blots."""
    from music_emotion.report.figures.results import va_space_figure

    figure = va_space_figure(_many_predictions(7, 270), {}, 50)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 7
    figure.canvas.draw()
    assert len({round(ax.get_position().y0, 3) for ax in panels}) == 2  # two rows of at most four
    small = va_space_figure(_many_predictions(1, 20), {}, 50).axes[0].collections[2]
    large = panels[0].collections[2]
    assert large.get_sizes()[0] < small.get_sizes()[0] and large.get_alpha() < small.get_alpha()


# ------------------------------------------------------------------------------------ tables
def test_format_with_ci():
    assert format_with_ci(0.5123, 0.40149, 0.6031) == "0.512 [0.401, 0.603]"
    assert format_with_ci(0.5, None, None) == "0.500"
    assert format_with_ci(float("nan"), 0.1, 0.2) == "n/a [0.100, 0.200]"
    assert format_with_ci(1234567.0, None, None, decimals=3) == "1.23e+06"
    assert format_with_ci(0.0001234, None, None) == "0.000123"
    assert format_with_ci(-3e-33, -1e-17, 2e-17, small_as_scientific=False) == "0.000 [0.000, 0.000]"


def test_flatten_numeric_handles_any_nesting():
    rows = flatten_numeric({"a": {"b": 1.5, "c": {"value": 0.2, "ci_low": 0.1, "ci_high": 0.3}}, "d": [1, 2],
                            "e": None})
    assert rows == [("a.b", 1.5, None, None), ("a.c", 0.2, 0.1, 0.3), ("e", None, None, None)]


def test_summarise_metrics_table_and_markdown(test_metrics, gan_quality, song_splits, synthetic_labels,
                                              reporting_params):
    table, markdown = summarise_metrics(test_metrics, song_splits, synthetic_labels, reporting_params, ARMS,
                                        gan=gan_quality)
    metric_rows = table[table["section"] == "test_metrics"]
    assert len(metric_rows) == len(MODELS) * 2 * 5
    assert set(metric_rows["metric"]) == {"ccc", "pearson", "r2", "rmse", "mae"}
    ridge_ccc = test_metrics["ridge"]["valence"]["ccc"]
    row = metric_rows[(metric_rows["name"] == "ridge") & (metric_rows["target"] == "valence")
                      & (metric_rows["metric"] == "ccc")].iloc[0]
    assert row["value"] == pytest.approx(ridge_ccc["value"]) and row["ci_low"] == pytest.approx(ridge_ccc["ci_low"])
    assert format_with_ci(ridge_ccc["value"], ridge_ccc["ci_low"], ridge_ccc["ci_high"]) in markdown

    # every scalar of gan_quality, whatever its keys, with configured labels where given
    gan_rows = table[table["section"] == "gan_quality"]
    assert "conditioning_fidelity_ccc.train_real_test_synthetic.arousal" in set(gan_rows["name"])
    assert "histogram" not in set(gan_rows["name"])
    assert "| Fréchet distance, real vs synthetic | 123.457 |" in markdown
    assert "| mode_collapse.possible_mode_collapse | no |" in markdown
    assert "| feature.name | pooled_mel_statistics |" in markdown

    dataset = table[table["section"] == "dataset"].set_index("name")["value"]
    assert dataset["real songs: train"] == 26 and dataset["synthetic spectrograms (train only)"] == 12
    assert dataset["train expansion factor"] == pytest.approx(38 / 26)
    # markdown: one row per model and target, models in the configured order, header with CI columns
    model_lines = [line for line in markdown.splitlines() if line.startswith("| mean |") or
                   line.startswith("| gan |")]
    assert len(model_lines) == 4
    assert markdown.index("| mean | valence") < markdown.index("| gan | valence")
    assert "e-" not in markdown.split("## GAN quality")[0], "metric cells use fixed decimals"
    assert "| model | target | n songs | CCC | r | R² | RMSE | MAE |" in markdown


def test_summarise_metrics_names_incomplete_test_metrics(test_metrics, gan_quality, song_splits, synthetic_labels,
                                                         reporting_params):
    del test_metrics["gan"]["arousal"]["rmse"]
    with pytest.raises(ValueError, match=r"test_metrics\['gan'\]\['arousal'\].*rmse"):
        summarise_metrics(test_metrics, song_splits, synthetic_labels, reporting_params, ARMS, gan=gan_quality)


def test_summarise_metrics_with_empty_gan_quality(test_metrics, song_splits, synthetic_labels, reporting_params):
    table, markdown = summarise_metrics(test_metrics, song_splits, synthetic_labels, reporting_params, ARMS, gan={})
    assert (table["section"] == "gan_quality").sum() == 0
    assert "gan_quality holds no scalar figures" in markdown


# ----------------------------------------------------------------------------------- archive
def test_archive_members_by_type(tiny_models, test_predictions):
    png = b"\x89PNG\r\n\x1a\nrest"
    assert archive_members("prediction_scatter", png, model_weights=True) == {"figures/prediction_scatter.png": png}
    assert list(archive_members("real_only.training_history", test_predictions, model_weights=True)) == [
        "tables/real_only/training_history.csv"]
    assert archive_members("metrics_summary", "# hi", model_weights=True) == {"tables/metrics_summary.md": b"# hi"}
    assert json.loads(archive_members("test_metrics", {"a": np.float32(0.5)},
                                      model_weights=True)["metrics/test_metrics.json"]) == {"a": 0.5}
    assert sorted(archive_members("real_only.trained_model", tiny_models["real_only.trained_model"],
                                  model_weights=True)) == [
        "models/real_only/trained_model/config.json", "models/real_only/trained_model/model.safetensors"]
    by_reference = archive_members("real_only.trained_model", tiny_models["real_only.trained_model"],
                                   model_weights=False)
    assert sorted(by_reference) == ["models/real_only/trained_model/config.json",
                                    "models/real_only/trained_model/weights.json"]
    weights = archive_members("real_only.trained_model", tiny_models["real_only.trained_model"],
                              model_weights=True)["models/real_only/trained_model/model.safetensors"]
    reference = json.loads(by_reference["models/real_only/trained_model/weights.json"])
    assert reference["model.safetensors"] == {"bytes": len(weights), "sha256": hashlib.sha256(weights).hexdigest()}
    with pytest.raises(TypeError, match="'odd'.*object"):
        archive_members("odd", object(), model_weights=True)


NO_LINEAGE = {"run": None, "input_versions": {}}


def test_build_report_archive_manifest(tiny_models, test_metrics):
    png = b"\x89PNG\r\n\x1a\nrest"
    members = build_report_archive(
        {"run": "2026-01-02T03.04.05.678Z", "input_versions": {"generator": "2026-01-01T00.00.00.000Z"}},
        model_weights=True, spectrogram_examples=png, test_metrics=test_metrics, metrics_summary="# Results",
        generator=tiny_models["generator"], gan__trained_model=tiny_models["gan.trained_model"],
    )
    manifest = json.loads(members.pop("MANIFEST.json"))
    assert manifest["run"] == "2026-01-02T03.04.05.678Z"
    assert manifest["members"]["models/generator/config.json"]["version"] == "2026-01-01T00.00.00.000Z"
    assert manifest["members"]["tables/metrics_summary.md"]["version"] is None
    manifest = manifest["members"]
    assert set(members) == set(manifest) == {
        "figures/spectrogram_examples.png", "metrics/test_metrics.json", "tables/metrics_summary.md",
        "models/generator/config.json", "models/generator/model.safetensors",
        "models/gan/trained_model/config.json", "models/gan/trained_model/model.safetensors",
    }
    assert manifest["models/gan/trained_model/config.json"]["source"] == "gan.trained_model"
    assert json.loads(members["metrics/test_metrics.json"]) == json.loads(json.dumps(test_metrics))


def test_archive_refuses_a_model_that_test_metrics_did_not_score(tiny_models, test_metrics):
    """Ctrl-C after one arm saved a new model: the latest model is not the one the latest test_metrics scored."""
    retrained = TinyModel({"width": 3})  # fresh weights: the interrupted run's never-tested model
    with pytest.raises(LineageError,
                       match=r"(?s)gan\.trained_model: test_metrics was computed from \w+.*--load-versions"):
        build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=test_metrics, gan__trained_model=retrained)
    members = build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=test_metrics,
                                   gan__trained_model=tiny_models["gan.trained_model"])
    assert "models/gan/trained_model/model.safetensors" in members


def test_archive_refuses_a_generator_that_gan_quality_did_not_assess(tiny_models, gan_quality, song_splits,
                                                                     test_metrics):
    other = TinyModel({"width": 3})
    with pytest.raises(LineageError, match="generator: gan_quality"):
        build_report_archive(NO_LINEAGE, model_weights=True, gan_quality=gan_quality, generator=other)
    splits = {**song_splits, "test": song_splits["test"][:-1]}
    with pytest.raises(LineageError, match="song_splits"):
        build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=test_metrics, song_splits=splits)
    build_report_archive(NO_LINEAGE, model_weights=True, gan_quality=gan_quality, generator=tiny_models["generator"],
                         test_metrics=test_metrics, song_splits=song_splits)


def test_archive_keeps_an_embedding_arms_probe_numbers_only_beside_the_model_built_of_them(test_metrics):
    """An embedding arm archives its servable model (what test_metrics scored) and the probe's numbers it was built
    of; numbers from another fit (an interrupted run) are refused."""
    from music_emotion.study.lineage import fingerprint

    probe = {"model": "embedding_probe", "alpha": 1.0, "coef": [[0.5]]}
    served = TinyModel({"width": 2, "probe": {"fitted_from": fingerprint(probe)}})
    metrics = {**test_metrics, "gan": {**test_metrics["gan"], "lineage": {"model": fingerprint(served),
                                                                           "song_splits": None}}}
    members = build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=metrics, gan__trained_model=served,
                                   gan__baseline_model=probe)
    assert {"models/gan/trained_model/config.json", "metrics/gan/baseline_model.json"} <= set(members)
    with pytest.raises(LineageError, match=r"gan\.baseline_model: test_metrics was computed from"):
        build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=metrics, gan__trained_model=served,
                             gan__baseline_model={**probe, "alpha": 10.0})


def test_outputs_from_before_lineage_was_recorded_are_accepted(tiny_models, test_metrics):
    legacy = {arm: {k: v for k, v in report.items() if k != "lineage"} for arm, report in test_metrics.items()}
    members = build_report_archive(NO_LINEAGE, model_weights=True, test_metrics=legacy,
                                   gan__trained_model=TinyModel({"width": 3}))
    assert "metrics/test_metrics.json" in members


def test_the_single_split_summary_says_when_the_generator_failed():
    from music_emotion.report.summary import _generator_check

    reading = {"valence": {"conditioning_ccc": 0.85, "real_ccc": 0.9, "carried": True},
               "arousal": {"conditioning_ccc": 0.1, "real_ccc": 0.9, "carried": False}}
    arms = {"real_only": {"model": "vit"}, "gan": {"model": "vit", "synthetic": True}}
    carried = {t: {"conditioning_ccc": 0.9, "real_ccc": 0.95, "carried": True} for t in ("valence", "arousal")}
    arms["diffusion"] = {"model": "vit", "synthetic": "diffusion"}
    lines = _generator_check({"gan": {"independent_reader": reading}, "diffusion": {"independent_reader": carried}},
                             arms)
    assert lines[0] == "## Generator check"
    assert lines[2].startswith("gan: inconclusive: the generator's samples do not carry arousal (0.10 vs 0.90")
    assert lines[3].startswith("diffusion: the generator's samples carry their labels")
    assert _generator_check({"gan": {"independent_reader": reading}}, {"real_only": {"model": "vit"}}) == []
