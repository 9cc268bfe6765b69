"""Names an earlier release used: an old name on the command line, or an earlier run's saved outputs, get one line
that says the new name (the `vit_training` pipeline trains AST arms too, so it became `training`).

The old names are recognised until `REMOVED_IN`; from that release on this module and its test go (the test fails
once the package's version reaches it, so the removal cannot be forgotten).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

RENAMED_IN, REMOVED_IN = "0.1.0", "0.3.0"
# Parameter sections renamed in 0.2.0 (recognised until 0.4.0): the ViT/AST arms' optimisation settings were
# `training.training`, a name that said nothing.
PARAMETERS_RENAMED = {"training.training": "training.optimisation"}
PARAMETERS_REMOVED_IN = "0.4.0"

# old name -> new name, for pipelines, parameter sections, dataset names (or their last part) and node names
RENAMED = {
    "vit_training": "training",
    "vit_model": "trained_model",
    "vit_history": "training_history",
    "vit_training_curves": "training_curves",
    "train_vit": "train_arm",
    "experiment_vit_training": "experiment_training",
}


def new_name(name: str) -> str | None:
    """`real_only.vit_model` -> `real_only.trained_model`; None when no part of `name` was renamed."""
    parts = name.split(".")
    renamed = [RENAMED.get(part, part) for part in parts]
    return ".".join(renamed) if renamed != parts else None


def renamed_parameter(dotted: str) -> str | None:
    """`training.training.epochs` -> `training.optimisation.epochs`; None when no part of it was renamed."""
    for old, new in PARAMETERS_RENAMED.items():
        if dotted == old or dotted.startswith(old + "."):
            return new + dotted[len(old):]
    return None


def renamed_in_run(run_params: Mapping[str, Any]) -> list[str]:
    """One problem per old name in the run's options: `--pipelines`, `--load-versions`, `--params`, `--nodes` ..."""
    said: list[tuple[str, Iterable[str]]] = [
        ("--load-versions", [f"{k}:{v}" for k, v in (run_params.get("load_versions") or {}).items()]),
        ("--params", (run_params.get("runtime_params") or run_params.get("extra_params") or {}).keys()),
        ("--nodes", run_params.get("node_names") or ()),
        ("--from-nodes", run_params.get("from_nodes") or ()),
        ("--to-nodes", run_params.get("to_nodes") or ()),
        ("--from-inputs", run_params.get("from_inputs") or ()),
        ("--to-outputs", run_params.get("to_outputs") or ()),
    ]
    problems = []
    for option, names in said:
        for name in names:
            head, colon, rest = name.partition(":")
            if new := new_name(head):
                problems.append(f"{option} {name}: '{head}' is now called '{new}'; use {option} {new}{colon}{rest}")
    return problems


def earlier_release_copy(filepath: str | Path) -> Path | None:
    """The folder where an earlier release saved what now lives at `filepath`, when it exists and the new one
    does not (`data/06_models/real_only/vit_model` for `.../trained_model`)."""
    path = Path(filepath)
    old = Path(*[next((o for o, n in RENAMED.items() if n == part), part) for part in path.parts])
    return old if old != path and old.exists() and not path.exists() else None
