"""The model card (README.md of an exported folder), generated from the run's records — never typed by hand.

Facts come from the saved outputs of the run that trained the arm: `test_metrics` (values and bootstrap CIs,
refused unless its lineage names this very model), `song_splits` (how many songs each part held), the arm's
entry in `arms:` (family, GAN samples, augmentations), the seed and `reporting.model_card` (what the training
data were and under which licence). The front matter is what the Hugging Face Hub reads.
"""

from __future__ import annotations

from typing import Any

from music_emotion.data import TARGETS
from music_emotion.study.lineage import fingerprint

METRICS = ("ccc", "pearson", "r2", "rmse", "mae")


def card_facts(arm: str, arm_spec: dict[str, Any], model: Any, test_metrics: dict[str, Any],
               song_splits: dict[str, Any], seed: int, card: dict[str, Any],
               generator_check: str | None = None) -> dict[str, Any]:
    """Everything the card states, checked: the metrics must be this model's. `generator_check`: for an arm trained
    on generated samples, whether they carry their labels (`gan.reader.generator_verdict`)."""
    if arm not in test_metrics:
        raise ValueError(f"test_metrics has no '{arm}' entry: evaluate the arm first (`kedro run --pipelines "
                         "training`)")
    recorded = (test_metrics[arm].get("lineage") or {}).get("model")
    if recorded != fingerprint(model):
        raise ValueError(f"the newest test_metrics were computed for another '{arm}' model than the newest saved one "
                         "(an interrupted or partial run?): re-run `kedro run --pipelines training` so the card's "
                         "numbers are this model's")
    return {
        "arm": arm, "label": arm_spec.get("label", arm), "family": model.family,
        "checkpoint": model.config.get("checkpoint") or "none (randomly initialised)",
        "synthetic": bool(arm_spec.get("synthetic", False)), "augmentations": list(arm_spec.get("augmentations") or []),
        "songs": {part: len(song_splits.get(part) or []) for part in ("train", "val", "test")},
        "seed": int(seed), "extraction": model.config.get("extraction") or {},
        "window_frames": model.window_frames, "model_line": model_line(model),
        "chosen_on_val": "the probe's alpha" if model.family == "embedding" else "checkpoint",
        "metrics": {t: test_metrics[arm][t] for t in TARGETS},
        "n_test": int(test_metrics[arm]["n_songs"]), "generator_check": generator_check, **card,
    }


def model_card(facts: dict[str, Any]) -> str:
    metrics = facts["metrics"]
    index = [{"type": f"{metric}_{target}", "name": f"{metric.upper()} {target}",
              "value": round(float(metrics[target][metric]["value"]), 4)} for target in TARGETS for metric in METRICS]
    front = {
        "license": facts["license"], **({"license_name": facts["license_name"]} if facts.get("license_name") else {}),
        "library_name": "music_emotion", "tags": ["audio", "music", "music-emotion-recognition", "valence-arousal",
                                                  "regression", facts["family"]],
        **({"datasets": facts["datasets"]} if facts.get("datasets") else {}),
        "metrics": ["ccc", "pearson", "r2", "rmse", "mae"],
        "model-index": [{"name": f"music_emotion-{facts['arm']}", "results": [{
            "task": {"type": "audio-regression", "name": "valence/arousal regression"},
            "dataset": {"type": facts["dataset_id"], "name": facts["dataset_name"], "split": "test"},
            "metrics": index}]}],
    }
    rows = "\n".join(
        f"| {target} | " + " | ".join(_cell(metrics[target][m]) for m in METRICS) + " |" for target in TARGETS)
    how = ["real training songs"] + (["the GAN's synthetic spectrograms for the same split"] if facts["synthetic"]
                                     else []) + [f"{a} augmentation" for a in facts["augmentations"]]
    songs = facts["songs"]
    generator = f"\n- Generated training samples: {facts['generator_check']}." if facts.get("generator_check") else ""
    return f"""---
{_yaml(front)}---

# music_emotion — {facts['label']} (`{facts['arm']}` arm)

Predicts how a piece of music feels: **valence** (negative ↔ positive) and **arousal** (calm ↔ excited), each in
[-1, 1], per window of audio and as the mean over a song's windows.

```python
from music_emotion import EmotionModel
model = EmotionModel.from_pretrained("path/to/this/folder")   # or its hub id
song = model.predict("song.mp3")        # song.valence, song.arousal, song.quadrant, song.windows
```

or `music-emotion predict song.mp3 --model path/to/this/folder`.

## Training

- Data: {facts['training_data']}
- Songs: {songs['train']} train / {songs['val']} validation ({facts['chosen_on_val']} chosen here) /
  {songs['test']} test, one split by song, seed {facts['seed']}.
- Trained on: {', '.join(how)}.
- Model: {facts['model_line']}

## Test results ({facts['n_test']} held-out songs; 95 % bootstrap CI over songs)

| target | CCC | Pearson r | R² | RMSE | MAE |
| --- | --- | --- | --- | --- | --- |
{rows}

## Intended use and limitations

- Research and personal exploration of music emotion; not for decisions about people.
- {facts['limitations']}{generator}
- Emotion is rated by listeners and varies between them; these are estimates of an average listener's rating.

Generated by `music-emotion export` from the run's records.
"""


def model_line(model: Any) -> str:
    """What the model is, in one sentence of the card: a fine-tuned network, or a frozen encoder + probe."""
    extraction = model.config.get("extraction") or {}
    if model.family == "embedding":
        encoder, probe = model.config["encoder"], model.config["probe"]
        named = (f"`{encoder['checkpoint']}`" + (f" at revision `{encoder['revision']}`" if encoder["revision"] else "")
                 + "; not copied here: loaded from the Hugging Face cache or hub, or from a local folder with "
                 "`encoder=` / `--encoder DIR`") if encoder["checkpoint"] else \
            "randomly initialised; its weights are in this folder"
        reader = (f"an MLP probe (one hidden layer of {probe['hidden_size']} ReLU units, weight decay "
                  f"{probe['alpha']:g})" if probe["kind"] == "mlp" else f"a ridge probe (alpha {probe['alpha']:g})")
        return (f"a frozen CLAP audio encoder ({named}) embeds {encoder['window_seconds']:g} s windows at "
                f"{encoder['sample_rate']} Hz; {reader}, regularisation chosen on the validation songs, maps each "
                "window's embedding to valence/arousal, averaged per song.")
    return (f"{model.family.upper()} backbone (pretrained checkpoint: "
            f"{model.config.get('checkpoint') or 'none (randomly initialised)'}) "
            f"with an MLP head and tanh, on {extraction.get('kind', 'log_mel')} features "
            f"({extraction.get('n_mels', '?')} bins at {extraction.get('sample_rate', '?')} Hz), windows of "
            f"{model.window_frames} frames averaged per song.")


def _cell(metric: dict[str, Any]) -> str:
    if metric.get("ci_low") is None:
        return f"{metric['value']:.3f}"
    return f"{metric['value']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
