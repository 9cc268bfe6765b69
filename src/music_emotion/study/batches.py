"""What the fine-tuning loop reads: training samples cropped in batches from memory-mapped arrays (or from GPU
memory, uploaded once when they fit), and the real validation songs.

No per-item Python: a batch is a sorted index slice of each source array, read in one numpy call, cropped
with one `gather` and moved to the device in one copy."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from music_emotion.data.windows import cut_windows, read_crops

logger = logging.getLogger(__name__)


class TrainingWindows:
    """Training samples = rows of one or more (memory-mapped) arrays (real songs, synthetic samples), with
    (n, 2) targets and the number of real frames per row; each epoch draws one crop per sample.

    The table is sorted by (source, row) once, so any sorted set of positions reads every array in
    ascending row order.
    """

    def __init__(
        self,
        arrays: Sequence[np.ndarray],
        source: np.ndarray,
        row: np.ndarray,
        targets: np.ndarray,
        valid_frames: np.ndarray,
        window: int,
        device: torch.device,
        cache_on_device: str | bool,
        cache_max_fraction: float,
    ) -> None:
        if len(source) == 0:
            raise ValueError("TrainingWindows needs at least one sample")
        order = np.lexsort((row, source))
        self.arrays = list(arrays)
        self.source = np.asarray(source, dtype=np.int64)[order]
        self.row = np.asarray(row, dtype=np.int64)[order]
        self.targets_np = np.asarray(targets, dtype=np.float32)[order]
        self.valid_frames = np.asarray(valid_frames, dtype=np.int64)[order]
        self.window = int(window)
        self.device = device
        self.targets = torch.from_numpy(self.targets_np).to(device)
        self._cache = self._upload(cache_on_device, cache_max_fraction)

    def __len__(self) -> int:
        return len(self.row)

    def _upload(self, cache_on_device: str | bool, max_fraction: float) -> list[torch.Tensor] | None:
        """Copy each source's used rows to device memory once (never whole in host RAM on the way).

        `auto` caches on CUDA only, when the rows take under `max_fraction` of free GPU memory.
        """
        if (cache_on_device in (False, "false", "off", None)
                or (cache_on_device == "auto" and self.device.type != "cuda")):
            return None
        nbytes = sum(int(np.prod(a.shape[1:])) * 4 * int((self.source == s).sum()) for s, a in enumerate(self.arrays))
        if cache_on_device == "auto":
            free, _ = torch.cuda.mem_get_info(self.device)
            if nbytes > max_fraction * free:
                logger.info("Not caching %.1f GB of spectrograms on the GPU (%.1f GB free)", nbytes / 1e9, free / 1e9)
                return None
        cache = []
        for s, array in enumerate(self.arrays):
            rows = self.row[self.source == s]
            cache.append(torch.from_numpy(np.asarray(array[rows], dtype=np.float32)).to(self.device))
        logger.info("Cached %d spectrograms (%.2f GB) on %s", len(self), nbytes / 1e9, self.device)
        return cache

    def batches(
        self, order: np.ndarray, batch_size: int, starts: np.ndarray
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x dB (B, H, window), y (B, 2)) on the device for consecutive chunks of `order` (table positions),
        sample p cropped from frame `starts[p]`."""
        order = np.asarray(order, dtype=np.int64).copy()
        for begin in range(0, len(order), batch_size):
            positions = np.sort(order[begin : begin + batch_size])
            parts = []
            for s in np.unique(self.source[positions]):
                mine = positions[self.source[positions] == s]
                if self._cache is not None:
                    local = np.searchsorted(self.row[self.source == s], self.row[mine])
                    block, index = self._cache[s], torch.from_numpy(local).to(self.device)
                    parts.append(cut_windows(block, index, torch.from_numpy(starts[mine]), self.window))
                else:
                    parts.append(read_crops(self.arrays[s], self.row[mine], starts[mine], self.window))
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
            y = self.targets[torch.from_numpy(positions).to(self.device)]
            if x.device != self.device:
                x = (x.pin_memory().to(self.device, non_blocking=True) if self.device.type == "cuda"
                     else x.to(self.device))
            yield x, y


@dataclass(frozen=True)
class ValidationSongs:
    """Real validation songs: the array, their rows, targets and real frames (predicted window by window)."""

    values: np.ndarray
    rows: np.ndarray
    targets: np.ndarray
    valid_frames: np.ndarray
