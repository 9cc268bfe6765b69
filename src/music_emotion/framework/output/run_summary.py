"""The last lines of a run say what it found and where it is: each arm's TEST CCC, the GAN's quality, the folders.

Read back from the catalog after the run (what was saved, not what a node meant to save), for the outputs this
run produced; a run that produced none of them adds nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.framework.running.kedro_internals import dataset_location, load_path
from music_emotion.study.arms import GENERATED

logger = logging.getLogger("music_emotion.summary")
SAVED = ("report_archive", "metrics_summary", "inference_predictions")
SUMMARISED = ("test_metrics", *(generated.quality for generated in GENERATED.values()), *SAVED)


def summary_lines(catalog: Any, produced: set[str]) -> list[str]:
    lines = []
    if "test_metrics" in produced:
        for arm, report in catalog.load("test_metrics").items():
            ccc = [report[t]["ccc"] for t in ("valence", "arousal")]
            lines.append(f"TEST CCC  {arm:<14} valence {ccc[0]['value']:.3f} [{ccc[0]['ci_low']:.3f}, "
                         f"{ccc[0]['ci_high']:.3f}]  arousal {ccc[1]['value']:.3f} [{ccc[1]['ci_low']:.3f}, "
                         f"{ccc[1]['ci_high']:.3f}]  ({report['n_songs']} songs)")
    for generator, generated in GENERATED.items():
        if generated.quality not in produced:
            continue
        quality = catalog.load(generated.quality)
        conditioning = quality["conditioning_fidelity_ccc"]["train_real_test_synthetic"]
        tag = f"{generator.upper():<9}"
        lines.append(f"{tag} conditioning CCC valence {_value(conditioning['valence']):.3f} arousal "
                     f"{_value(conditioning['arousal']):.3f}, Fréchet ratio "
                     f"{_value(quality['frechet_distance']['ratio_to_floor']):.2f} (1 = as close as real songs are)")
        if reading := quality.get("independent_reader"):
            from music_emotion.gan.reader import generator_verdict

            lines.append(f"{tag} {generator_verdict(reading)}")
    for name in SAVED:
        if name in produced:
            lines.append(f"Saved     {name}: {_where(catalog, name)}")
    return lines


def _value(entry: Any) -> float:
    return float(entry["value"] if isinstance(entry, dict) else entry)


def _where(catalog: Any, name: str) -> str:
    dataset = catalog.get(name)
    path = Path(dataset_location(dataset))
    try:
        return str(load_path(dataset))  # the version this run wrote
    except Exception:  # noqa: BLE001 - unversioned datasets have no load path of their own
        return str(path)


class RunSummaryHook:
    @hook_impl
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        produced = set(pipeline.all_outputs()) & set(SUMMARISED)
        try:
            lines = summary_lines(catalog, produced)
        except Exception as exc:  # noqa: BLE001 - a summary never costs a finished run
            logger.warning("Could not summarise the run (%s); its outputs are saved", exc)
            return
        for line in lines:
            logger.info(line)
