"""Arms are data: one map in `conf/` (`arms:`) says what each compared model trains on.

An arm is a name plus: which model family fits it (`mean_baseline`, `ridge_baseline`, `vit` = the ImageNet ViT
on log-mel spectrograms, `ast` = the AudioSet Audio Spectrogram Transformer on Kaldi filter banks, `embedding` = a
ridge probe on a frozen music encoder's song embeddings, `data_processing.embeddings`), whether it
also trains on that split's generated samples (`synthetic: gan` or `synthetic: diffusion`, the generator family;
`true` means `gan`; log-mel arms only: both generators learn log-mel spectrograms), which training-time
augmentations it uses (names of `training.augmentations` entries) and how figures show it (`label`, `colour`).
The single-split `training` pipeline, the `experiment` folds, evaluation, figures and the report archive are
all generated from this map, so adding an arm is a YAML edit::

    arms:
      specaugment_gan: {model: vit, synthetic: gan, augmentations: [specaugment], label: "ViT, GAN + masking"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MODEL_FAMILIES = ("mean_baseline", "ridge_baseline", "vit", "ast", "embedding")
TRANSFORMERS = ("vit", "ast")
# Families whose single-split run saves a servable `<arm>.trained_model` (predict / export / app / inference): the
# fine-tuned networks, and the embedding probe with its encoder named (`models.embedding_probe`).
SERVED = (*TRANSFORMERS, "embedding")
# The catalog entry each family reads its input from (the ridge baseline pools log-mel statistics).
FEATURES = {"mean_baseline": "mel_spectrograms", "ridge_baseline": "mel_spectrograms", "vit": "mel_spectrograms",
            "ast": "ast_features", "embedding": "audio_embeddings"}
# The parameter section of each read-out family's fit (networks read `training`; the mean baseline nothing).
READOUT_PARAMS = {"ridge_baseline": "params:training.baselines.ridge", "embedding": "params:training.probe"}
# The generator families (`synthetic: <family>`) and the feature set they learn, the only one their samples can be
# added to.
GENERATORS = ("gan", "diffusion")
# The probes an embedding arm can read its embeddings with (`probe:`): ridge on song means, or an MLP on windows.
PROBES = ("ridge", "mlp")


class GeneratedSet(NamedTuple):
    """The catalog entries a generator family writes in the single-split run."""

    spectrograms: str
    labels: str
    quality: str
    history: str
    models: tuple[str, ...]


GENERATED = {"gan": GeneratedSet("synthetic_spectrograms", "synthetic_labels", "gan_quality", "gan_history",
                                 ("generator", "discriminator")),
             "diffusion": GeneratedSet("diffusion_synthetic_spectrograms", "diffusion_synthetic_labels",
                                       "diffusion_quality", "diffusion_history", ("diffusion_generator",))}


def reported_generators(arms: Mapping[str, Arm]) -> list[str]:
    """The generators a single-split report shows: the GAN (its pipeline is always part of the run) and every
    other family an arm trains on."""
    return ["gan", *sorted({arm.synthetic for arm in arms.values() if arm.synthetic} - {"gan"})]
GAN_FEATURES = "mel_spectrograms"
_ARM_KEYS = {"model", "synthetic", "augmentations", "probe", "label", "colour"}
# Arm names become keyword arguments of the evaluation nodes next to these.
_RESERVED = {"mel_spectrograms", "ast_features", "emotion_labels", "song_splits", "params", "seed", "device", "fold",
             "unit"}


@dataclass(frozen=True)
class Arm:
    name: str
    model: str
    synthetic: str | None = None  # the generator family whose samples it also trains on
    augmentations: tuple[str, ...] = field(default_factory=tuple)
    probe: str | None = None  # an embedding arm's probe (PROBES)
    label: str = ""
    colour: str | None = None

    @property
    def is_transformer(self) -> bool:
        """A network fine-tuned by `training` (ViT or AST): it has a training history and a torch model."""
        return self.model in TRANSFORMERS

    @property
    def is_served(self) -> bool:
        """Its single-split run saves a `trained_model` that predicts audio files (a network or an embedding probe)."""
        return self.model in SERVED

    @property
    def features(self) -> str:
        """The catalog entry of the arm's input features."""
        return FEATURES[self.model]

    @property
    def display_name(self) -> str:
        return self.label or self.name


def parse_arms(arms: Mapping[str, Any], selected: Sequence[str] | None, parameter: str) -> dict[str, Arm]:
    """The arms named in `selected` (all of `arms` when None), checked; errors name `parameter`."""
    if not isinstance(arms, Mapping) or not arms:
        raise ValueError("parameters: `arms` must be a non-empty map of arm name -> {model: ...} "
                         "(conf/base/parameters.yml)")
    names = list(arms) if selected is None else list(selected)
    unknown = [n for n in names if n not in arms]
    if unknown:
        raise ValueError(f"{parameter} names unknown arm(s) {unknown}; "
                         f"the arms defined under `arms:` are {sorted(arms)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{parameter} lists an arm twice: {names}")
    parsed = {}
    for name in names:
        spec = arms[name] or {}
        extra = sorted(set(spec) - _ARM_KEYS)
        if extra:
            raise ValueError(f"arms.{name} has unknown key(s) {extra}; known: {sorted(_ARM_KEYS)}")
        if not str(name).isidentifier() or name in _RESERVED:
            raise ValueError(f"arm name {name!r} must be a Python identifier (it names catalog namespaces) "
                             f"and none of {sorted(_RESERVED)}")
        model = spec.get("model")
        if model not in MODEL_FAMILIES:
            raise ValueError(f"arms.{name}.model must be one of {MODEL_FAMILIES}, got {model!r}")
        augmentations = tuple(spec.get("augmentations") or ())
        if model not in TRANSFORMERS and (spec.get("synthetic") or augmentations):
            raise ValueError(f"arms.{name}: synthetic data and augmentations apply to `model: vit` / `ast` arms only")
        if spec.get("synthetic") and FEATURES[model] != GAN_FEATURES:
            raise ValueError(
                f"arms.{name}: `synthetic:` is not available for `model: {model}`. Both generators generate "
                f"{GAN_FEATURES} (the ViT's log-mel input); a {model} arm reads {FEATURES[model]}, and no generator "
                "is trained in that feature space. Remove `synthetic:`, or use `model: vit` for a generator's arm "
                "(docs/ast.md#the-gan-question)."
            )
        probe = spec.get("probe")
        if (model == "embedding") != (probe is not None) or probe not in (*PROBES, None):
            raise ValueError(f"arms.{name}.probe: an `embedding` arm names its probe, one of {list(PROBES)} "
                             f"(got {probe!r}); other arms have none")
        parsed[name] = Arm(name, model, generator_of(name, spec.get("synthetic")), augmentations, probe,
                           str(spec.get("label") or name), spec.get("colour"))
    return parsed


def generator_of(name: str, synthetic: Any) -> str | None:
    """`synthetic:` -> the generator family: `true` is the GAN (the setting's meaning before the second family)."""
    if synthetic is None or synthetic is False:
        return None
    if synthetic is True:
        return "gan"
    if synthetic not in GENERATORS:
        raise ValueError(f"arms.{name}.synthetic must be one of {list(GENERATORS)} (the generator whose samples the "
                         f"arm trains on), true (= gan) or false, got {synthetic!r}")
    return synthetic


def check_augmentations(arms: Mapping[str, Arm], augmentations: Mapping[str, Any], parameter: str) -> None:
    """Every augmentation an arm names must be configured under `parameter`."""
    for arm in arms.values():
        missing = [a for a in arm.augmentations if a not in (augmentations or {})]
        if missing:
            raise ValueError(
                f"arms.{arm.name}.augmentations names {missing}, which {parameter} does not define "
                f"(defined: {sorted(augmentations or {})})"
            )


def arm_style(arms: Mapping[str, Any]) -> dict[str, Any]:
    """Figure style of the arms, from their `label`/`colour` in conf, in the order the map lists them."""
    return {
        "model_order": list(arms),
        "model_colours": {name: spec.get("colour") for name, spec in arms.items() if spec and spec.get("colour")},
        "model_labels": {name: (spec or {}).get("label") or name for name, spec in arms.items()},
    }
