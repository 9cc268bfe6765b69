"""Data path to the model: memory-mapped stored songs -> cropped windows -> resized, normalised 3-channel batches.

Writes N seeded random dB spectrograms of stored songs (default 512 x 128 x 1938 float32, the 45 s span of
conf/base, ~510 MB) to a temporary `.npy`, opens it as a read-only memory map (as `SpectrogramDataset`
does), draws one random crop start per song (the ViT window of conf/base, 431 frames = 10 s), then measures
side by side in one run, on the same shuffled rows, the same crops, the same batch size and the same number
of batches:
  - seed: a per-item `torch.utils.data.Dataset.__getitem__` (read one row's window, scale to [0, 1], resize
    to 224 x 224 with its own `F.interpolate`, repeat to 3 channels, normalise), batched by a
    `DataLoader(num_workers=2)` (persistent workers, start-up not timed);
  - project: the training loop's way, `study.training_loop.TrainingWindows.batches` (a sorted index batch ->
    one `np.asarray(mmap[idx])` read -> one `gather` of the crops) -> `prepare_vit_inputs` on the whole batch
    (what `model.predict` does first).
Both produce the same pixels (checked on one batch before timing). With `--device cuda` each batch goes to
the GPU (the seed's way: after the DataLoader; the project's way: before `prepare_vit_inputs`, which then
runs there), and a third row times the pipeline's CUDA path (`TrainingWindows` with the rows cached in GPU
memory: crops are a device-side gather).

    python benchmarks/bench_data_path.py [--items 512] [--batches 32] [--batch-size 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import busy_cores, project_parameters, spectrogram_shape, vit_window  # noqa: E402
from harness import measure, report  # noqa: E402

from music_emotion.data.windows import random_crop_starts  # noqa: E402
from music_emotion.models.backbone_loading import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from music_emotion.models.runtime import resolve_device  # noqa: E402
from music_emotion.models.vit_regression import prepare_vit_inputs  # noqa: E402
from music_emotion.study.training_loop import TrainingWindows  # noqa: E402

DB_RANGE = (-80.0, 0.0)


def input_config(image_size: int, patch_size: int = 16, mode: str = "resize") -> dict:
    """The `config["input"]` block `build_vit_regressor` writes for ViT-B/16 in `resize` mode with the
    seed's normalisation (the dB range to [0, 1], then ImageNet statistics)."""
    return {"mode": mode, "image_size": [image_size, image_size], "patch_size": patch_size,
            "patch_stride": patch_size, "normalisation": "db_range", "db_range": list(DB_RANGE),
            "pad_db": DB_RANGE[0], "image_mean": list(IMAGENET_MEAN), "image_std": list(IMAGENET_STD)}


def write_spectrograms(path: Path, n: int, n_mels: int, n_frames: int, seed: int = 0) -> np.ndarray:
    """Seeded random dB spectrograms in [-80, 0], written chunk by chunk; returned as a read-only memory map."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, n_mels, n_frames))
    for start in range(0, n, 64):
        stop = min(n, start + 64)
        out[start:stop] = rng.uniform(DB_RANGE[0], DB_RANGE[1],
                                      size=(stop - start, n_mels, n_frames)).astype(np.float32)
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


class SeedSpectrogramDataset(torch.utils.data.Dataset):
    """The notebook's way: every item read, resized and normalised on its own; here an item is the window
    `window` frames long from `starts[index]` (default: the whole stored spectrogram, as in the notebook)."""

    def __init__(self, path: Path, targets: np.ndarray, image_size: int, window: int | None = None,
                 starts: np.ndarray | None = None) -> None:
        self.path, self.targets, self.image_size = path, targets, image_size
        self.window = window
        self.starts = np.zeros(len(targets), dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
        self.values = None  # opened lazily, once per worker
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.values is None:
            self.values = np.load(self.path, mmap_mode="r")
        start = int(self.starts[index])
        stop = None if self.window is None else start + self.window
        x = torch.from_numpy(np.array(self.values[index, :, start:stop], dtype=np.float32))
        x = ((x - DB_RANGE[0]) / (DB_RANGE[1] - DB_RANGE[0])).clamp(0.0, 1.0)
        x = F.interpolate(x[None, None], size=(self.image_size, self.image_size), mode="bilinear",
                          align_corners=False, antialias=True)[0]
        x = x.repeat(3, 1, 1)
        return (x - self.mean) / self.std, torch.from_numpy(self.targets[index])


def seed_loader(dataset: SeedSpectrogramDataset, rows: np.ndarray, batch_size: int, num_workers: int,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """Persistent workers: their start-up is paid once, in the untimed warm-up pass (this favours the seed,
    whose DataLoader restarts its workers every epoch)."""
    return torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, rows.tolist()), batch_size=batch_size,
                                       shuffle=False, num_workers=num_workers, persistent_workers=num_workers > 0,
                                       pin_memory=pin_memory)


def seed_pass(loader: torch.utils.data.DataLoader, device: torch.device) -> float:
    """One pass over the loader's rows; each batch goes to the training device, as in the seed's loop."""
    checksum = torch.zeros((), device=device)
    for x, _ in loader:
        checksum += x.to(device, non_blocking=True)[0, 0, 0, 0]  # touch the batch, as a training step would
    return float(checksum)  # one sync per pass


class ProjectWindows:
    """The training loop's `TrainingWindows` over `rows` of the memory map (one source: real songs), with the
    table positions of `rows` in their given (shuffled) order and each sample's crop start."""

    def __init__(self, values: np.ndarray, targets: np.ndarray, rows: np.ndarray, window: int,
                 starts_by_row: np.ndarray, device: torch.device, cache_on_device: bool = False) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        table_rows = np.sort(rows)  # TrainingWindows sorts its table by row
        self.windows = TrainingWindows([values], np.zeros(len(rows), dtype=np.int64), rows, targets[rows],
                                       np.full(len(rows), values.shape[2], dtype=np.int64), window, device,
                                       cache_on_device, cache_max_fraction=0.4)  # conf/base's device_cache_max_fraction
        self.order = np.searchsorted(table_rows, rows)  # the shuffled rows as table positions
        self.starts = np.asarray(starts_by_row, dtype=np.int64)[table_rows]

    def batches(self, batch_size: int):
        return self.windows.batches(self.order, batch_size, self.starts)


def project_batch(values: np.ndarray, targets: np.ndarray, positions: np.ndarray, config: dict,
                  device: torch.device | None = None, window: int | None = None,
                  starts_by_row: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loop's fetch of one batch (rows in ascending order): one sorted read of the memory map,
    one gather of the crops, one copy to the device, batched prep there."""
    device = device or torch.device("cpu")
    window = window or values.shape[2]
    starts_by_row = np.zeros(len(values), dtype=np.int64) if starts_by_row is None else starts_by_row
    fetch = ProjectWindows(values, targets, positions, window, starts_by_row, device)
    x, y = next(fetch.windows.batches(np.arange(len(positions)), len(positions), fetch.starts))
    return prepare_vit_inputs(x, config), y


def project_pass(fetch: ProjectWindows, batch_size: int, config: dict) -> float:
    checksum = torch.zeros((), device=fetch.windows.device)
    for x, _ in fetch.batches(batch_size):
        checksum += prepare_vit_inputs(x, config)[0, 0, 0, 0]
    return float(checksum)


def check_same_pixels(dataset: SeedSpectrogramDataset, values: np.ndarray, targets: np.ndarray,
                      rows: np.ndarray, config: dict) -> float:
    """Both ways must feed the model the same pixels (batch order aside): max abs difference."""
    seed_x = torch.stack([dataset[int(r)][0] for r in np.sort(rows)])
    project_x, _ = project_batch(values, targets, rows, config, window=dataset.window,
                                 starts_by_row=dataset.starts)
    return float((seed_x - project_x).abs().max())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=512, help="stored songs in the memory-mapped array")
    parser.add_argument("--n-mels", type=int, default=None, help="default: conf/base extraction (128)")
    parser.add_argument("--n-frames", type=int, default=None,
                        help="frames per stored song (default: conf/base's stored span, 45 s = 1938)")
    parser.add_argument("--window", type=int, default=None,
                        help="frames of each random crop (default: conf/base's ViT window, 10 s = 431)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=32, help="batches per timed pass (each way)")
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader workers of the seed's way")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads of this process (default: torch's, i.e. all cores)")
    parser.add_argument("--device", default="cpu",
                        help="where batches are prepared/consumed: cpu (the issue's target) or auto/cuda")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.n_mels, args.n_frames, args.window, args.image_size = 24, 16, 64, 40, 32
        args.batch_size, args.batches, args.repeats = 4, 3, 1

    load = busy_cores()
    if args.n_mels is None or args.n_frames is None or args.window is None:
        n_mels, n_frames = spectrogram_shape(None)
        args.n_mels, args.n_frames = args.n_mels or n_mels, args.n_frames or n_frames
        args.window = args.window or vit_window(project_parameters(None))[0]
    if not 1 <= args.window <= args.n_frames:
        parser.error(f"--window ({args.window}) must be between 1 and --n-frames ({args.n_frames})")
    n_rows = args.batches * args.batch_size
    if n_rows > args.items:
        parser.error(f"--batches x --batch-size ({n_rows}) must not exceed --items ({args.items})")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = input_config(args.image_size)
    with tempfile.TemporaryDirectory(prefix="music_emotion_bench_data_path_") as tmp:
        path = Path(tmp) / "spectrograms.npy"
        values = write_spectrograms(path, args.items, args.n_mels, args.n_frames, args.seed)
        targets = rng.uniform(-1, 1, size=(args.items, 2)).astype(np.float32)
        rows = rng.permutation(args.items)[:n_rows]  # the same shuffled rows for both ways
        starts = random_crop_starts(np.full(args.items, args.n_frames), args.window, rng)  # the same crops too
        dataset = SeedSpectrogramDataset(path, targets, args.image_size, args.window, starts)
        max_diff = check_same_pixels(dataset, values, targets, rows[: args.batch_size], config)
        if max_diff > 1e-4:
            raise AssertionError(f"the two data paths disagree by {max_diff:g}: the comparison would be unfair")

        device = resolve_device(args.device)
        loader = seed_loader(dataset, rows, args.batch_size, args.num_workers, pin_memory=device.type == "cuda")
        seed = measure(f"seed: per-item Dataset + DataLoader({args.num_workers} workers)",
                       lambda: seed_pass(loader, device), args.batches, "batches", args.repeats, track_rss=True)
        loader = None  # stops the persistent workers
        fetch = ProjectWindows(values, targets, rows, args.window, starts, device)
        project = measure("project: sorted mmap batch + crop gather + prepare_vit_inputs (TrainingWindows)",
                          lambda: project_pass(fetch, args.batch_size, config),
                          args.batches, "batches", args.repeats, track_rss=True)
        rows_measured = [seed, project]
        if device.type == "cuda":  # the pipeline's CUDA path: rows uploaded once (device_cache: auto)
            cached = ProjectWindows(values, targets, rows, args.window, starts, device, cache_on_device=True)
            rows_measured.append(measure("project on GPU: device cache + gather + prepare",
                                         lambda: project_pass(cached, args.batch_size, config),
                                         args.batches, "batches", args.repeats, track_rss=True))
            cached = None
        fetch = values = None  # closes the memory map before the folder goes
    shape = {"items": args.items, "spectrogram": [args.n_mels, args.n_frames], "window": [args.n_mels, args.window],
             "image_size": args.image_size,
             "batch_size": args.batch_size, "batches": args.batches, "max_abs_pixel_difference": max_diff,
             "torch_threads": torch.get_num_threads(), "device": str(device),
             "load_average_1m_at_start": load}
    for row in rows_measured:
        row.extra.update(shape)
    speedup = project.summary()["rate_median"] / seed.summary()["rate_median"]
    ratios = {"project / seed batches per s": speedup}
    targets_met = {}
    if device.type == "cpu":
        targets_met[">= 5x the per-item Dataset + DataLoader (CPU)"] = speedup >= 5
    else:
        ratios["project on GPU (device cache) / seed"] = (rows_measured[-1].summary()["rate_median"]
                                                          / seed.summary()["rate_median"])
    return report("data_path", rows_measured, ratios, targets_met, args.out_dir)


if __name__ == "__main__":
    main()
