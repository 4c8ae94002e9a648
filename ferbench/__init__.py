"""FER Bench: what the API, the worker and the ML core share (settings, SQL layer, CLI)."""

__version__ = "0.1.0"
