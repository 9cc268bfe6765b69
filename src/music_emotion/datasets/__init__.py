"""Custom Kedro datasets: spectrogram arrays, model directories, audio folders, annotation CSVs, figures, zips."""

from music_emotion.datasets.annotation_csv_dataset import AnnotationCSVDataset
from music_emotion.datasets.audio_folder_dataset import AudioFolderDataset
from music_emotion.datasets.figure_dataset import FigureDataset
from music_emotion.datasets.parquet_parts import AtomicParquetDataset, ParquetPartsDataset
from music_emotion.datasets.run_lineage_dataset import RunLineageDataset
from music_emotion.datasets.spectrogram_dataset import SpectrogramDataset
from music_emotion.datasets.torch_model_dataset import TorchModelDataset
from music_emotion.datasets.unit_records_dataset import UnitRecordsDataset
from music_emotion.datasets.zip_archive_dataset import ZipArchiveDataset

__all__ = [
    "AnnotationCSVDataset",
    "AtomicParquetDataset",
    "AudioFolderDataset",
    "FigureDataset",
    "ParquetPartsDataset",
    "RunLineageDataset",
    "SpectrogramDataset",
    "TorchModelDataset",
    "UnitRecordsDataset",
    "ZipArchiveDataset",
]
