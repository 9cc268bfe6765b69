"""Parameter names checked before the first node: a key that no parameter section has stops the run.

`--params training.epochs=5` (the key is `training.optimisation.epochs`) or a `trainng:` typo in a conf file would
otherwise add a key nobody reads, and the run would go on with the value the user meant to change. The names
`conf/base` declares are the schema: every key of the run's parameters (any env, `--params`) must be one of them,
except below a map whose names are the user's to choose (`arms`, `training.augmentations`) or below a key that
`conf/base` leaves null (e.g. `training.model.vit_config`: free keyword arguments of a model config).
`experiment.overrides` holds sections of the other pipelines, so it is checked as they are.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Maps whose keys are names the user chooses; the values below them are checked by their own parsers.
OPEN_MAPS = {"arms", "training.augmentations"}
# Maps that hold other sections of the parameters, checked against the whole schema.
NESTED_SECTIONS = {"experiment.overrides"}


def base_parameter_schema(conf_root: str | Path) -> dict[str, Any]:
    """The key tree of `conf/base`'s parameter files (values are not resolved: only names matter here)."""
    base = Path(conf_root) / "base"
    tree: dict[str, Any] = {}
    for file in sorted({*base.glob("parameters*.yml"), *base.glob("parameters*/**/*.yml"),
                        *base.glob("**/parameters*.yml")}):
        _merge(tree, yaml.safe_load(file.read_text()) or {})
    return tree


def unknown_keys(params: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per key of `params` that `schema` does not have, naming the nearest real key."""
    known = sorted(dotted for dotted, _ in _paths("", schema))
    problems = []
    for dotted in _unknown("", params, schema, schema):
        # a key under the wrong section first (`training.epochs`), then a misspelt name (`experiment.n_fold`)
        near = _same_leaf(dotted, known) or next(iter(difflib.get_close_matches(dotted, known, n=1, cutoff=0.6)), "")
        hint = f"did you mean `{near}`?" if near else "no parameter section has it"
        problems.append(f"{dotted}: no such parameter; {hint}")
    return problems


def _unknown(prefix: str, value: Any, schema: Any, root: dict[str, Any]) -> Iterator[str]:
    if not isinstance(value, dict) or not isinstance(schema, dict) or prefix in OPEN_MAPS:
        return
    if prefix in NESTED_SECTIONS:
        schema = root
    for key, child in value.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in schema:
            yield dotted
        else:
            yield from _unknown(dotted, child, schema[key], root)


def _same_leaf(dotted: str, known: list[str]) -> str:
    """A known key that ends in the same name (`training.epochs` -> `training.optimisation.epochs`), else ""."""
    leaf = dotted.rsplit(".", 1)[-1]
    first = dotted.split(".", 1)[0]
    matches = [k for k in known if k.rsplit(".", 1)[-1] == leaf]
    matches.sort(key=lambda k: (not k.startswith(first + "."), k.count("."), len(k)))  # same section, shallowest
    return matches[0] if matches else ""


def _paths(prefix: str, tree: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(tree, dict) and prefix not in OPEN_MAPS:
        for key, child in tree.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            yield dotted, child
            yield from _paths(dotted, child)


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
