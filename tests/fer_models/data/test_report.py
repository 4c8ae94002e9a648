import numpy as np

from fer_models.data.dataset import Dataset, DecodeNotes
from fer_models.data.labels import CLASS_NAMES
from fer_models.data.report import dataset_report
from fer_models.data.synthetic import generate_faces


def test_report_counts_imbalance_and_duplicates_within_and_across_splits():
    images, _ = generate_faces(10, seed=2)
    images = images.copy()
    labels = np.array([0, 0, 0, 1, 3, 3, 3, 3, 3, 3], dtype=np.int64)
    split = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], dtype=np.int8)
    images[1] = images[0]  # duplicate within train
    images[8] = images[2]  # train image leaks into test
    images[6] = images[9]  # val and test share an image
    images[7] = images[3]  # train/val copy with a different label (1 vs 3)
    images[5] = 17  # a blank frame
    ds = Dataset("t", images, labels, split, CLASS_NAMES, "src", "splitfp", 42,
                 DecodeNotes(source="here", n_bad=2, bad_files=("a.jpg", "b.jpg"), dropped_classes={"contempt": 4}))
    report = dataset_report(ds)
    assert report.counts["train"]["Angry"] == 3 and report.counts["test"]["Happy"] == 2
    assert report.split_sizes == {"train": 6, "val": 2, "test": 2}
    assert report.duplicates.within == {"train": 1, "val": 0, "test": 0}
    assert report.duplicates.across == {"train-val": 1, "train-test": 1, "val-test": 1}
    assert report.duplicates.groups == 4 and report.duplicates.conflicting_labels == 2  # (2, 8) and (3, 7)
    assert report.imbalance_ratio == float("inf") and report.constant_images == 1
    text = report.to_text()
    assert "train-test 1" in text and "contempt" in text and "a.jpg" in text
    assert report.to_dict()["imbalance_ratio"] is None
