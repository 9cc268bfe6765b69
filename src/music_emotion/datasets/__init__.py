"""Custom Kedro datasets: spectrogram arrays, model directories, audio folders, annotation CSVs."""

from music_emotion.datasets.annotation_csv_dataset import AnnotationCSVDataset
from music_emotion.datasets.audio_folder_dataset import AudioFolderDataset
from music_emotion.datasets.spectrogram_dataset import SpectrogramDataset
from music_emotion.datasets.torch_model_dataset import TorchModelDataset

__all__ = ["AnnotationCSVDataset", "AudioFolderDataset", "SpectrogramDataset", "TorchModelDataset"]
