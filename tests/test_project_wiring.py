"""The project as Kedro sees it, in both environments: every pipeline's inputs resolve, every output is
persisted and versioned (so no run overwrites another), and paths come from the catalog only."""

import re
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT = Path(__file__).resolve().parents[1]
UNVERSIONED_OUTPUTS = {"demo_deam_audio", "demo_annotations_1_2000", "demo_annotations_2000_2058"}  # raw demo inputs
# Versioned by run folders of their own (<started>_<identity>/part-N): a resumed run adds parts after the last one,
# a fresh run starts a new folder; no part is ever overwritten (tests/pipelines/inference/test_library.py).
RUN_FOLDER_VERSIONED = {"library_predictions"}


@pytest.fixture(scope="module", params=["base", "demo"])
def context(request):
    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env=None if request.param == "base" else "demo") as session:
        yield session.load_context()


def test_registry_has_every_pipeline_and_default_excludes_demo_and_inference():
    bootstrap_project(PROJECT)
    assert {"data_processing", "gan_augmentation", "training", "reporting", "inference", "demo_data"} <= set(pipelines)
    default_nodes = {n.name for n in pipelines["__default__"].nodes}
    assert "synthesise_demo_dataset" not in default_nodes and "predict_library" not in default_nodes
    assert {"extract_mel_spectrograms", "train_gan", "evaluate_test_set", "build_report_archive"} <= default_nodes


@pytest.mark.parametrize("name", ["data_processing", "gan_augmentation", "training", "reporting", "inference",
                                  "demo_data"])
def test_inputs_resolve_and_outputs_are_versioned(context, name):
    bootstrap_project(PROJECT)
    pipeline = pipelines[name]
    catalog = context.catalog
    for dataset in pipeline.inputs():
        if dataset.startswith("params:"):
            key = dataset.removeprefix("params:")
            value = context.params
            for part in key.split("."):
                assert part in value, f"{name}: parameter {key} is not configured"
                value = value[part]
        else:
            assert catalog.get(dataset) is not None, f"{name}: input {dataset} is not in the catalog"
    for dataset in pipeline.all_outputs():
        entry = catalog.get(dataset)
        assert type(entry).__name__ != "MemoryDataset", f"{name}: output {dataset} is not persisted"
        if dataset not in UNVERSIONED_OUTPUTS | RUN_FOLDER_VERSIONED:
            assert getattr(entry, "_version", None) is not None, f"{name}: output {dataset} is not versioned"


def test_demo_env_reads_the_demo_data_and_never_writes_over_deam(context):
    deam_audio = context.catalog.get("deam_audio")._path
    assert "demo_deam" in str(deam_audio) or context.env != "demo"
    for name in ("demo_deam_audio", "demo_annotations_1_2000", "demo_annotations_2000_2058"):
        entry = context.catalog.get(name)
        location = str(getattr(entry, "_path", None) or getattr(entry, "_filepath", ""))
        assert "demo_deam" in location, name


def test_no_data_path_is_opened_outside_the_catalog():
    """Paths to data live in conf/: no code in the package opens a `data/...` path itself."""
    opening = re.compile(r"""(Path|open|load|read_\w+|to_\w+|save\w*|glob)\(\s*f?["']data/""")
    offenders = [str(p) for p in (PROJECT / "src").rglob("*.py") if opening.search(p.read_text())]
    assert offenders == []


def _output_folders(context) -> set[Path]:
    """Project-relative folders every persisted output of every pipeline is written under."""
    catalog, folders = context.catalog, set()
    for name in set().union(*(p.all_outputs() for p in pipelines.values())) - UNVERSIONED_OUTPUTS:
        entry = catalog.get(name)
        if entry is None:  # an experiment unit's intermediate: kept in memory, never written
            continue
        location = Path(str(getattr(entry, "_filepath", None) or entry._path))
        folders.add(location.relative_to(PROJECT) if location.is_absolute() else location)
    return folders


def test_demo_and_base_envs_never_share_an_output_folder():
    """A demo run never becomes "latest" for DEAM reporting, and a base-env inference never loads a demo model."""
    bootstrap_project(PROJECT)
    folders = {}
    for env in (None, "demo"):
        with KedroSession.create(project_path=PROJECT, env=env) as session:
            folders[env] = _output_folders(session.load_context())
    assert all(folder.parts[:2] == ("data", "demo") for folder in folders["demo"])
    assert not any(folder.parts[:2] == ("data", "demo") for folder in folders[None])
    assert folders[None].isdisjoint(folders["demo"])
    with KedroSession.create(project_path=PROJECT, env=None) as session:
        model = Path(str(session.load_context().catalog.get("inference_model")._filepath))
    assert "demo" not in model.parts


def test_bound_node_functions_keep_their_name_in_worker_processes():
    """ParallelRunner pickles nodes with multiprocessing's pickler, which drops a functools.partial's __dict__."""
    import pickle
    from multiprocessing.reduction import ForkingPickler

    from music_emotion.pipelines.arm_wiring import configured_arms
    from music_emotion.pipelines.experiment.pipeline import unit_pipeline

    bootstrap_project(PROJECT)
    for node in unit_pipeline(0, 1, configured_arms("experiment.arms")).nodes:
        copied = pickle.loads(ForkingPickler.dumps(node))
        assert hasattr(copied.func, "__name__"), node.name
        assert copied.func.__name__ == node.func.__name__
