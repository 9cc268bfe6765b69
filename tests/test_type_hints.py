"""Every node of every pipeline passes Kedro's own type extraction (its parameter validation) without a warning."""

import logging

from kedro.validation.type_extractor import TypeExtractor

from music_emotion.framework.running.bound_function import BoundFunction
from music_emotion.pipeline_registry import register_pipelines


def test_kedro_reads_the_type_hints_of_every_node(caplog):
    from kedro.framework.project import configure_project

    configure_project("music_emotion")
    pipelines = register_pipelines()
    bound = [n for p in pipelines.values() for n in p.nodes if isinstance(n.func, BoundFunction)]
    assert bound, "the project's pipelines have bound node functions; this test checks Kedro can read them"
    with caplog.at_level(logging.WARNING, logger="kedro.validation.type_extractor"):
        TypeExtractor(pipelines).extract_types_from_pipelines()
    warnings = [r.getMessage() for r in caplog.records if r.name == "kedro.validation.type_extractor"]
    assert not warnings, warnings[:3]


def test_a_bound_function_keeps_its_hints_less_the_bound_ones():
    def node(features: list[int], seed: int, arm_name: str) -> dict:
        return {"arm": arm_name, "n": len(features), "seed": seed}

    bound = BoundFunction(node, arm_name="gan")
    import typing

    assert typing.get_type_hints(bound) == {"features": list[int], "seed": int, "return": dict}
    assert bound([1, 2], 3) == {"arm": "gan", "n": 2, "seed": 3}
