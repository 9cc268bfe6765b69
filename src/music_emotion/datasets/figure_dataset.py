"""`matplotlib.MatplotlibDataset` that can also be loaded: the saved image file's bytes.

Kedro's `MatplotlibDataset` is save-only, so no node could consume a figure (e.g. to put it in the
report archive) and a notebook could not open one by name. This subclass keeps everything of the
parent (versioning, `save_args`, the kedro-viz image preview) and adds `load() -> bytes`: the image
exactly as written (PNG by default), of the latest version or of the one pinned with
`--load-versions` / `catalog.load(name, version=...)`.
"""

from __future__ import annotations

from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset


class FigureDataset(MatplotlibDataset):
    """Catalog entry::

        prediction_scatter:
          type: music_emotion.datasets.FigureDataset
          filepath: data/08_reporting/prediction_scatter.png
          versioned: true

    Saving takes one matplotlib `Figure` (a list or dict of figures is refused: the archive and
    the preview expect one image file per entry).
    """

    def load(self) -> bytes:  # type: ignore[override]
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError as exc:
            raise DatasetError(
                f"No saved figure at '{self._filepath}': run the reporting pipeline first. {exc}"
            ) from exc
        if not self._fs.isfile(load_path):
            raise DatasetError(
                f"'{load_path}' is not a single image file; FigureDataset loads one figure per entry"
            )
        with self._fs.open(load_path, mode="rb") as image_file:
            return image_file.read()

    def save(self, data) -> None:  # type: ignore[override]
        if isinstance(data, list | dict):
            raise DatasetError(
                f"FigureDataset '{self._filepath}' saves one matplotlib Figure, got a {type(data).__name__}"
            )
        # The parent's save is already wrapped with Kedro's versioning logic, which this class's
        # own save gets too: call the parent's raw body so the save version is resolved once.
        MatplotlibDataset.save.__wrapped__(self, data)
