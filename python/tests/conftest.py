import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "models" / "fmnist"


@pytest.fixture(scope="session")
def cnn() -> str:
    return str(MODELS / "cnn.onnx")


def fmnist_available() -> bool:
    d = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    return os.path.isdir(d)
