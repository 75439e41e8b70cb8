"""fer_helpers: the tested logic behind the fer notebook series."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of notebooks

__version__ = "0.1.0"
