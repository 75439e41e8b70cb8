"""The shipped model: small, loads under TensorFlow, and its card's test accuracy holds on a fixed sample."""

import json

import numpy as np
import pytest

from fer_helpers import data, evaluation, inference, saving
from fer_helpers.config import SEED

SAMPLE = 1000
MAX_MEGABYTES = 20
FLOOR = 0.48  # the shipped model holds 51.8% on all 7,178; issue 4 asks for 68%, not reached (blurred train split)


@pytest.fixture(scope="module")
def shipped():
    """The committed model and its metadata."""
    if not inference.SHIPPED_MODEL.exists():
        pytest.fail(f"No shipped model at {inference.SHIPPED_MODEL}")
    return saving.load_model(inference.SHIPPED_MODEL)


def test_shipped_model_is_small_and_documented(shipped):
    folder = inference.SHIPPED_MODEL.parent
    assert inference.SHIPPED_MODEL.stat().st_size < MAX_MEGABYTES * 2**20
    card = (folder / "MODEL_CARD.md").read_text()
    _, metadata = shipped
    assert f"{metadata['test_accuracy']:.2%}" in card and metadata["command"] in card
    assert (folder / "confusion_matrix.png").exists()


def test_shipped_model_accuracy_on_a_fixed_test_sample(shipped, fer_dir):
    _, metadata = shipped
    dataset = data.load_dataset(fer_dir)
    model, _ = saving.load_model(inference.SHIPPED_MODEL, classes=dataset.classes, input_shape=(48, 48, 1))
    x_test, y_test = dataset.arrays("test")
    sample = np.random.default_rng(SEED).permutation(len(y_test))[:SAMPLE]
    probabilities = evaluation.predict_probabilities(model, x_test[sample], tta=metadata["tta"])
    accuracy = evaluation.metrics(y_test[sample], probabilities, dataset.classes)["accuracy"]
    print(json.dumps({"sample_accuracy": accuracy, "card_test_accuracy": metadata["test_accuracy"]}))
    assert abs(accuracy - metadata["test_accuracy"]) < 0.03, "the sample disagrees with the model card"
    assert accuracy >= FLOOR, f"shipped model reaches only {accuracy:.1%} on {SAMPLE} test images"
