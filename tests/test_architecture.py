"""The folder tree is the architecture: these tests fail when an import points the wrong way.

Layers, lowest first (docs/development.md draws them): `config`, `console`, `jsonable` -> `audio` -> `data` ->
`models` -> `study` -> `gan` -> `diffusion` -> `report` -> `serving`, `datasets` -> `framework` -> `pipelines`.
The domain (everything up to `report`) never imports Kedro, MLflow or the glue; `audio` never imports torch; no
pipeline imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "music_emotion"
DOMAIN = ("config", "console", "jsonable", "audio", "data", "models", "study", "gan", "diffusion", "report")
GLUE = ("framework", "pipelines", "datasets", "serving", "tools", "settings", "pipeline_registry", "runner")
# What each domain package may import from the project (besides itself); the rest of the project is above it.
DOMAIN_MAY_IMPORT = {
    "config": set(), "console": set(), "jsonable": set(),
    "audio": {"config", "console", "jsonable"},
    "data": {"config", "console", "jsonable", "audio"},
    "models": {"config", "console", "jsonable", "audio", "data"},
    "study": {"config", "console", "jsonable", "audio", "data", "models"},
    "gan": {"config", "console", "jsonable", "audio", "data", "models", "study"},
    "diffusion": {"config", "console", "jsonable", "audio", "data", "models", "study", "gan"},
    "report": {"config", "console", "jsonable", "audio", "data", "models", "study", "gan", "diffusion"},
}


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in `path`, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "music_emotion":
                found += [(node.lineno, f"music_emotion.{alias.name}") for alias in node.names]
    return found


def modules(top: str) -> list[Path]:
    root = PACKAGE / top
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "music_emotion" and len(parts) > 1 else None


@pytest.mark.parametrize("package", DOMAIN)
def test_the_domain_never_imports_the_glue_or_a_layer_above_it(package):
    wrong = []
    for path in modules(package):
        for line, module in project_imports(path):
            top = module.split(".")[0]
            if top in ("kedro", "kedro_mlflow", "kedro_datasets", "mlflow"):
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
            target = layer(module)
            if target and target != package and target not in DOMAIN_MAY_IMPORT[package]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_audio_decoding_needs_no_torch():
    """A listener's machine decodes audio with librosa/soundfile only; torch arrives with the models."""
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}" for path in modules("audio")
             for line, module in project_imports(path) if module.split(".")[0] == "torch"]
    assert not wrong, "\n".join(wrong)


def test_no_pipeline_imports_another():
    pipelines = sorted(p.name for p in (PACKAGE / "pipelines").iterdir() if (p / "pipeline.py").exists())
    assert {"data_processing", "training", "experiment", "reporting"} <= set(pipelines)
    wrong = []
    for name in pipelines:
        for path in (PACKAGE / "pipelines" / name).rglob("*.py"):
            for line, module in project_imports(path):
                parts = module.split(".")
                if (parts[:2] == ["music_emotion", "pipelines"] and len(parts) > 2
                        and parts[2] not in (name, "arm_wiring")):
                    wrong.append(f"pipelines/{name}/{path.name}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_serving_and_the_datasets_stay_below_the_pipelines_and_the_glue():
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
             for package in ("serving", "datasets") for path in modules(package)
             for line, module in project_imports(path)
             if layer(module) in ("pipelines", "framework", "tools") and not path.name == "cli.py"]
    assert not wrong, "\n".join(wrong)


def test_the_check_itself_catches_a_wrong_import(tmp_path):
    """The broken twin: a domain module that imports Kedro is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from kedro.pipeline import Node\n    from music_emotion.framework import hooks\n")
    assert [m for _, m in project_imports(bad)] == ["kedro.pipeline", "music_emotion.framework"]


def test_every_module_lives_in_a_package_by_concern():
    """The package root holds only the Kedro entry points and the few core modules every layer shares."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "config", "console", "jsonable", "pipeline_registry", "runner", "settings"]


def _unwrapped(func):
    """A node's own function, through `BoundFunction` and `functools.partial`."""
    while hasattr(func, "func") and callable(func.func):
        func = func.func
    return func


PIPELINE_PACKAGES = sorted(p.name for p in (PACKAGE / "pipelines").iterdir() if (p / "pipeline.py").exists())


@pytest.mark.parametrize("name", PIPELINE_PACKAGES)
def test_every_node_is_one_hop_from_its_pipeline(name):
    """A newcomer reads `pipelines/<name>/pipeline.py` and finds each node's function named there, defined in that
    pipeline's `nodes.py` or in a domain package (never behind a builder in another module)."""
    import importlib
    import re

    source = (PACKAGE / "pipelines" / name / "pipeline.py").read_text()
    pipeline = importlib.import_module(f"music_emotion.pipelines.{name}.pipeline").create_pipeline()
    homes = (f"music_emotion.pipelines.{name}.nodes", *(f"music_emotion.{d}." for d in DOMAIN if d not in (
        "config", "console", "jsonable")))
    wrong = set()
    for node in pipeline.nodes:
        func = _unwrapped(node.func)
        if not re.search(rf"\b{re.escape(func.__name__)}\b", source):
            wrong.add(f"{node.name}: {func.__name__} is not named in pipelines/{name}/pipeline.py")
        if not func.__module__.startswith(homes):
            wrong.add(f"{node.name}: {func.__name__} lives in {func.__module__}, not in the pipeline's nodes.py or "
                      "a domain package")
    assert pipeline.nodes and not wrong, "\n".join(sorted(wrong))
