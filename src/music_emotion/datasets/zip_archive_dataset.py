"""Versioned zip archive: `{member path: bytes}` in, one `.zip` file out (and back).

Used for `report_archive`, the run's figures, tables, metrics and model weights in one file
(the Kaggle reference recipe's `vit_output.zip`). Members are written in sorted order with a fixed timestamp, so
the same inputs give the same bytes; files that are already compressed (PNG, safetensors, zip)
are stored rather than deflated again.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import DatasetError, Version
from kedro_datasets._typing import TablePreview

from music_emotion.datasets.complete_versions import CompleteVersionsDataset

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: archives do not change with the clock
_STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".safetensors", ".zip", ".gz", ".npz")


class ZipArchiveDataset(CompleteVersionsDataset):
    """Catalog entry::

        report_archive:
          type: music_emotion.datasets.ZipArchiveDataset
          filepath: data/08_reporting/report_archive.zip
          versioned: true

    Save: a mapping of relative member paths (``figures/a.png``) to ``bytes`` (``str`` is
    written as UTF-8). Load: the same mapping, read back.
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        compresslevel: int = 6,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, version, metadata)
        self._compresslevel = compresslevel

    kind = "report archive"

    def load(self) -> dict[str, bytes]:
        path = Path(str(self._get_load_path()))
        if not path.is_file():
            raise DatasetError(f"Archive '{path}' does not exist; run the pipeline that writes it first")
        with zipfile.ZipFile(path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}

    def save(self, data: Mapping[str, bytes | str]) -> None:
        if not isinstance(data, Mapping) or not data:
            raise DatasetError(
                f"ZipArchiveDataset '{self._filepath}' saves a non-empty {{member path: bytes}} mapping, "
                f"got {type(data).__name__}"
            )
        for member in data:
            _check_member_name(member)
        path = Path(str(self._get_save_path()))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            with zipfile.ZipFile(partial, "w") as archive:
                for member in sorted(data):
                    content = data[member]
                    if isinstance(content, str):
                        content = content.encode("utf-8")
                    if not isinstance(content, bytes | bytearray | memoryview):
                        raise DatasetError(
                            f"Archive member '{member}' must be bytes or str, got {type(content).__name__}"
                        )
                    info = zipfile.ZipInfo(member, date_time=_FIXED_DATE)
                    info.external_attr = 0o644 << 16
                    if member.lower().endswith(_STORED_SUFFIXES):
                        info.compress_type = zipfile.ZIP_STORED
                        archive.writestr(info, bytes(content))
                    else:
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, bytes(content), compresslevel=self._compresslevel)
            os.replace(partial, path)  # never leave a half-written archive under the real name
        finally:
            partial.unlink(missing_ok=True)


    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version, "compresslevel": self._compresslevel}

    def preview(self, nrows: int = 50) -> TablePreview:
        """kedro-viz preview: the members with their sizes."""
        path = Path(str(self._get_load_path()))
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()][:nrows]
        return TablePreview(
            {
                "columns": ["member", "bytes", "compressed_bytes"],
                "index": list(range(len(infos))),
                "data": [[i.filename, i.file_size, i.compress_size] for i in infos],
            }
        )


def _check_member_name(member: Any) -> None:
    """Relative POSIX paths only: an absolute path or `..` could escape the folder it is unpacked in."""
    if not isinstance(member, str) or not member:
        raise DatasetError(f"Archive member names must be non-empty strings, got {member!r}")
    parts = PurePosixPath(member).parts
    if member.startswith("/") or "\\" in member or ".." in parts:
        raise DatasetError(f"Archive member name '{member}' must be a relative path without '..'")
