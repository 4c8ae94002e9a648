import numpy as np
import pytest

from fer_models.data.labels import CLASS_NAMES, EMOTIONS, NUM_CLASSES, label_for_folder
from fer_models.data.synthetic import generate_faces


def test_label_order_is_fer2013s():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert CLASS_NAMES[0] == "Angry" and CLASS_NAMES[6] == "Neutral" and NUM_CLASSES == 7


@pytest.mark.parametrize("folder,label", [
    ("angry", 0), ("Anger", 0), ("DISGUSTED", 1), ("fearful", 2), ("happiness", 3), ("Happy", 3),
    ("sadness", 4), ("surprised", 5), ("Surprise", 5), ("neutral", 6), ("3", 3),
])
def test_folder_aliases(folder, label):
    assert label_for_folder(folder) == label


@pytest.mark.parametrize("folder", ["contempt", "cats", "7", ""])
def test_non_fer_folders_have_no_label(folder):
    assert label_for_folder(folder) is None


def test_faces_balanced_deterministic_and_varied():
    images, labels = generate_faces(700, seed=5)
    assert images.shape == (700, 48, 48) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert np.bincount(labels, minlength=7).tolist() == [100] * 7
    again, labels_again = generate_faces(700, seed=5)
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    other, _ = generate_faces(700, seed=6)
    assert not np.array_equal(images, other)
    # No class is a constant image: faces of one class differ from each other.
    for c in range(7):
        members = images[labels == c].astype(np.float32)
        assert members.std(axis=0).mean() > 5.0
    assert generate_faces(10, seed=0, size=64)[0].shape == (10, 64, 64)


def test_class_means_differ_in_the_mouth_and_eyes():
    images, labels = generate_faces(1400, seed=1)
    means = np.stack([images[labels == c].astype(np.float32).mean(axis=0) for c in range(7)])
    # Every pair of classes differs somewhere by a clear margin (geometry, not just noise).
    for a in range(7):
        for b in range(a + 1, 7):
            assert np.abs(means[a] - means[b]).max() > 20.0, (EMOTIONS[a], EMOTIONS[b])


def test_small_cnn_learns_synthetic_faces():
    import keras

    images, labels = generate_faces(2800, seed=0)
    x = images.astype("float32")[..., None] / 255.0
    x_train, y_train, x_test, y_test = x[:2100], labels[:2100], x[2100:], labels[2100:]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(7, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.9
