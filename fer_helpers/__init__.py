"""fer_helpers: the tested logic behind the fer notebook series."""

__version__ = "0.1.0"
