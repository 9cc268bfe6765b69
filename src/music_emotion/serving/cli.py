"""`music-emotion`: predict, export and serve without learning Kedro; `music-emotion run ...` is Kedro's run.

    music-emotion predict song.mp3 my_music/ [--model gan | --model my_model/ | --model owner/name] [--out w.csv]
    music-emotion export gan my_model/          # a shareable Hugging Face model folder with its card
    music-emotion app [--model M] [--port 7860] # a local web page
    music-emotion run --env demo                # = kedro run --env demo (anything else goes to Kedro's run too)

A model folder or hub id works from any folder; an arm name (`gan`, `real_only`, ...) is read through this
project's catalog, so it needs the project folder (or `--project`). Errors are one paragraph; `--verbose` adds the
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

COMMANDS = ("predict", "export", "app", "published")  # ours; anything else is Kedro's run
HELP = ("-h", "--help", "help")
logger = logging.getLogger("music_emotion")


class UsageError(Exception):
    """A user-facing problem: printed as one paragraph, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in HELP:  # this command's own help first; Kedro's run is one of its subcommands
        parser().print_help()
        return 0
    if argv[0] not in COMMANDS:
        return kedro_run(argv[1:] if argv[:1] == ["run"] else argv)
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("music-emotion: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is one paragraph unless --verbose
        if args.verbose:
            traceback.print_exc()
        print(f"music-emotion {args.command}: {exc}", file=sys.stderr)
        return 2


def kedro_run(argv: list[str]) -> int:
    """Kedro's `run` command for this package: a Kedro project's package entry point runs the pipelines, so
    `music-emotion --pipelines ...` means what `kedro run --pipelines ...` means."""
    from kedro.framework.cli.utils import find_run_command
    from kedro.framework.project import configure_project

    configure_project("music_emotion")
    return find_run_command("music_emotion")(argv)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="music-emotion", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--env", default=None, help="the project's configuration env (e.g. demo) for arm names")
        p.add_argument("--project", default=".", help="the Kedro project folder, for arm names (default: here)")
        p.add_argument("--verbose", action="store_true", help="show the traceback of an error")
        return p

    predict = command("predict", "valence/arousal of audio files or folders (recursive)")
    predict.add_argument("paths", nargs="+", metavar="PATH")
    predict.add_argument("--model", default=None,
                         help="an arm of this project, an exported model folder or a hub id (default: inference.model)")
    predict.add_argument("--out", default=None, help="also write every window's row to this .csv or .parquet file")
    predict.add_argument("--scale", choices=("unit", "deam"), default="unit",
                         help="unit: [-1, 1] (default); deam: the training ratings' 1-9 scale")
    predict.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (default: auto)")
    predict.add_argument("--encoder", default=None, metavar="DIR",
                         help="an embedding model's encoder from this local folder (offline), not the HF cache/hub")
    predict.set_defaults(handler=run_predict)

    export = command("export", "write a trained arm as a shareable Hugging Face model folder with its model card")
    export.add_argument("arm", help="an arm of `arms:` trained by this project (e.g. gan, real_only)")
    export.add_argument("directory", help="a new (or empty) folder")
    export.set_defaults(handler=run_export)

    app = command("app", "a local web page: drop audio files, see how they feel")
    app.add_argument("--model", default=None, help="as for predict")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    app.add_argument("--port", type=int, default=7860)
    app.add_argument("--max-file-mb", type=float, default=50.0, help="larger uploads are refused (default: 50)")
    app.add_argument("--max-minutes", type=float, default=15.0,
                     help="longer audio is refused, so one request cannot hold the page for minutes (default: 15)")
    app.add_argument("--device", default="auto")
    app.add_argument("--encoder", default=None, metavar="DIR", help="as for predict")
    app.set_defaults(handler=run_app)

    published = command("published", "this run's TEST R² per arm beside published DEAM / MARBLE figures")
    published.set_defaults(handler=run_published)

    sub.add_parser("run", help="Kedro's `kedro run` for this project (`music-emotion run --help` lists its options)",
                   add_help=False)
    return top


def load_model(model: str | None, args: argparse.Namespace):
    """`EmotionModel` for a model folder / hub id (anywhere) or an arm of the project (its catalog, its conf)."""
    from music_emotion.serving.predictor import EmotionModel

    if model and (Path(model).expanduser().is_dir() or "/" in model):  # arm names hold no "/"
        return EmotionModel.from_pretrained(model, device=args.device, engine=_folder_engine(), encoder=args.encoder)
    with ProjectRecords(args.project, args.env, arm_runtime_params(model) if model else {}) as records:
        return records.emotion_model(args.device, args.encoder)


def _folder_engine():
    """The engine for a model folder outside any project: conf/base's `dask` rule (a local cluster once the files
    hold `min_audio_seconds` of audio, reckoned from their headers; one process below), which a test keeps equal."""
    from music_emotion.audio.engine import EngineParams

    return EngineParams(engine="auto", scheduler_address=None, n_workers=None, connect_timeout_s=5.0,
                        min_audio_seconds=7200.0)


def arm_runtime_params(arm: str) -> dict[str, Any]:
    """The runtime parameters that select `arm`: nested, as Kedro's own `--params inference.model=X` arrives, since
    `${runtime_params:inference.model}` in the catalog looks the dotted path up in this tree (a flat
    "inference.model" key is never found, and the default arm would quietly predict instead)."""
    return {"inference": {"model": arm}}


def run_predict(args: argparse.Namespace) -> int:
    from music_emotion.console import progress_bar
    from music_emotion.serving.predictor import audio_paths

    out = check_out_path(args.out) if args.out else None  # a wrong --out fails now, not after an hour of audio
    model = load_model(args.model, args)
    files, problems = audio_paths(args.paths, (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".aiff", ".aif"))
    if not files and not problems:
        raise UsageError(f"no audio file (mp3, wav, flac, ogg, m4a, aiff) in {' '.join(args.paths)}")
    width = max([4, *(len(str(f)) for f in files)])
    print(f"{'file':<{width}}  {'valence':>7}  {'arousal':>7}  {'quadrant':<16}  windows", flush=True)
    songs, skipped = [], []
    bar = progress_bar(total=len(files), desc="predict", unit="file")
    for song in model.iter_predict(files, args.scale):  # each row as soon as its file is done
        songs.append(song)
        if song.status == "skipped":
            skipped.append(song)
        else:
            print(f"{song.file:<{width}}  {song.valence:>7.3f}  {song.arousal:>7.3f}  {song.quadrant:<16}  "
                  f"{song.n_windows}", flush=True)
        bar.update(1)
    bar.close()
    for line in problems + [f"{s.file}: {s.reason}" for s in skipped]:
        print(f"skipped: {line}", file=sys.stderr)
    if out:
        write_windows(model.window_table(songs), out)
    print(f"{len(songs) - len(skipped)} file(s) predicted, {len(skipped) + len(problems)} skipped"
          + (f"; window rows in {out}" if out else ""), file=sys.stderr)
    return 0


def check_out_path(out: str) -> Path:
    """`--out` as a path that can be written: a .csv or .parquet file in a folder this user may write to."""
    path = Path(out).expanduser()
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, got '{out}'")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--out '{out}': the folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--out '{out}' cannot be written (permission denied): choose another file")
    return path


def write_windows(table: Any, out: Path) -> None:
    from music_emotion.serving.file_prediction import spreadsheet_safe

    if out.suffix.lower() == ".parquet":
        table.to_parquet(out, index=False)
    else:
        table.assign(file=table["file"].map(spreadsheet_safe)).to_csv(out, index=False)


def run_export(args: argparse.Namespace) -> int:
    with ProjectRecords(args.project, args.env) as records:
        folder = records.export(args.arm, Path(args.directory))
    print(f"Exported the '{args.arm}' arm to {folder} (config.json, model.safetensors, inference.json, README.md). "
          f"Share it as it is, or `hf upload <you>/<name> {folder}`.")
    return 0


def run_published(args: argparse.Namespace) -> int:
    from music_emotion.report.published import comparison_table

    with ProjectRecords(args.project, args.env) as records:
        metrics = records.load("test_metrics", "this project's single split")
        splits = records.load("song_splits", "this project's song split")
    print(comparison_table(metrics, splits))
    return 0


def run_app(args: argparse.Namespace) -> int:
    from music_emotion.serving.web_app import build_app

    model = load_model(args.model, args)
    page = build_app(model, max_file_mb=args.max_file_mb, max_seconds=args.max_minutes * 60)
    print(f"Serving {model.name} on http://{args.host}:{args.port} (Ctrl-C stops)")
    page.launch(server_name=args.host, server_port=args.port, max_file_size=f"{args.max_file_mb:g}mb",
                show_error=True, quiet=True)
    return 0


def _logs_to_stderr() -> None:
    """Kedro's logging config (set up with the session) writes to stdout; a command's stdout is its table, which a
    pipe into another tool reads row by row, so every log line goes to stderr instead."""
    for handler in logging.getLogger().handlers:
        if hasattr(handler, "console"):  # rich's handler
            from rich.console import Console

            handler.console = Console(stderr=True)
        elif isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def _is_project(path: str) -> bool:
    return (Path(path) / "conf").is_dir() and (Path(path) / "pyproject.toml").is_file()


class ProjectRecords:
    """This Kedro project's catalog and parameters, opened once, for arm names and exports."""

    def __init__(self, project: str, env: str | None, runtime_params: dict[str, Any] | None = None) -> None:
        if not _is_project(project):
            raise UsageError(
                f"'{Path(project).resolve()}' is not the music_emotion project folder, "
                "so arm names cannot be looked up. "
                "Give --model a model folder (from `music-emotion export`) or a hub id, or run from the project "
                "(or pass --project)"
            )
        self.project, self.env, self.runtime_params = Path(project).resolve(), env, runtime_params or {}

    def __enter__(self) -> ProjectRecords:
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        bootstrap_project(self.project)
        self._session = KedroSession.create(project_path=self.project, env=self.env,
                                            runtime_params=self.runtime_params)
        context = self._session.load_context()
        logging.getLogger("kedro").setLevel(logging.WARNING)  # no catalog chatter in a command's output
        _logs_to_stderr()
        self.catalog, self.params = context.catalog, context.params
        return self

    def __exit__(self, *exc: Any) -> None:
        self._session.close()

    def emotion_model(self, device: str, encoder: str | None = None):
        from music_emotion.audio.engine import EngineParams
        from music_emotion.serving.predictor import EmotionModel

        arm = self.trained_arm(self.params["inference"]["model"], "--model")
        model = self.load("inference_model", f"the '{arm}' arm")
        return EmotionModel(model, self.settings(), name=arm, device=device,
                            engine=EngineParams.from_params(self.params["dask"]), encoder=encoder)

    def export(self, arm: str, directory: Path) -> Path:
        from music_emotion.serving.model_card import card_facts, model_card
        from music_emotion.serving.model_folder import write_model_folder
        from music_emotion.study.arms import GENERATED, parse_arms

        arms = self.params["arms"]
        self.trained_arm(arm, "the arm")
        model = self.load(f"{arm}.trained_model", f"the '{arm}' arm")
        check = None
        if generator := parse_arms(arms, [arm], "--model")[arm].synthetic:
            from music_emotion.gan.reader import generator_verdict

            quality = GENERATED[generator].quality
            reading = self.load(quality, quality).get("independent_reader")
            check = generator_verdict(reading) if reading else None
        facts = card_facts(arm, arms[arm], model, self.load("test_metrics", "test_metrics"),
                           self.load("song_splits", "song_splits"), self.params["seed"],
                           self.params["reporting"]["model_card"], check)
        return write_model_folder(model, directory, self.settings(), model_card(facts))

    def trained_arm(self, arm: str, option: str) -> str:
        """`arm` when it names an arm of `arms:` with a servable saved model (networks, embedding probes), else a
        UsageError that lists them: a mistyped name must never fall through to another arm's model."""
        from music_emotion.study.arms import SERVED

        arms = self.params["arms"]
        trained = sorted(name for name, spec in arms.items() if (spec or {}).get("model") in SERVED)
        if arm not in trained:
            what = "a baseline without a saved network" if arm in arms else "not an arm of this project"
            env = f" (env '{self.env}')" if self.env else ""
            raise UsageError(f"{option} '{arm}' is {what}{env}; choose one of {trained}, or give a model folder "
                             "exported with `music-emotion export`")
        return arm

    def settings(self):
        """How this project predicts (its `inference` parameters and label scale), for a model and its export."""
        from music_emotion.serving.model_folder import PredictionSettings

        return PredictionSettings.from_run(self.params["inference"], self.params["data_processing"]["labels"])

    def load(self, name: str, what: str) -> Any:
        from kedro.io import DatasetError

        try:
            return self.catalog.load(name)
        except DatasetError as exc:
            env = f" --env {self.env}" if self.env else ""
            raise UsageError(f"{what} has no saved output in this project ({str(exc).splitlines()[0]}). Train it "
                             f"first: `kedro run{env}`") from None
