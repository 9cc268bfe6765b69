"""Reading song_splits and the labels of its songs (shared by gan_augmentation, training, reporting)."""

import numpy as np
import pandas as pd
import pytest

from music_emotion.data.splits import split_ids, targets_for_ids

LABELS = pd.DataFrame({"song_id": [3, 1, 2, 2], "valence": [0.3, 0.1, 0.2, 0.2], "arousal": [-0.3, -0.1, -0.2, -0.2]})


def test_split_ids_reads_a_split_and_guards_empty_and_missing():
    splits = {"train": [1, 2], "val": [], "test": [3]}
    assert split_ids(splits, "train") == [1, 2]
    assert split_ids(splits, "val", allow_empty=True) == []
    with pytest.raises(ValueError, match=r"song_splits\['val'\] is empty"):
        split_ids(splits, "val")
    with pytest.raises(ValueError, match="no 'holdout' list"):
        split_ids(splits, "holdout")


def test_targets_follow_the_requested_order():
    np.testing.assert_array_equal(targets_for_ids(LABELS, [3, 1]), np.array([[0.3, -0.3], [0.1, -0.1]], np.float32))


def test_targets_errors_name_what_is_missing():
    with pytest.raises(ValueError, match=r"1 test song\(s\) have no row in emotion_labels \(first: \[9\]\)"):
        targets_for_ids(LABELS, [1, 9], "test")
    with pytest.raises(ValueError, match="lacks column"):
        targets_for_ids(LABELS.drop(columns="arousal"), [1])
    broken = LABELS.assign(valence=[np.nan, 0.1, 0.2, 0.2])
    with pytest.raises(ValueError, match="NaN/inf valence or arousal for train songs"):
        targets_for_ids(broken, [3], "train")
