"""User-facing errors: each message says what was wrong, where, and what is accepted."""


class FerBenchError(Exception):
    """Base for errors caused by bad input or a missing resource (never by a bug)."""


class DatasetError(FerBenchError):
    """A dataset source is missing, malformed or unreadable."""


class ModelError(FerBenchError):
    """Unknown model, bad hyperparameter, bad input size or unavailable weights."""


class SpecError(FerBenchError):
    """An experiment spec field is invalid."""


class TrainingError(FerBenchError):
    """Training failed in a way the user can act on (divergence, out of memory, time cap)."""
