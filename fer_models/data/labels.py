"""The canonical FER2013 label order and the folder-name aliases that map onto it (TF-free)."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CLASS_NAMES: tuple[str, ...] = tuple(name.capitalize() for name in EMOTIONS)
NUM_CLASSES = len(EMOTIONS)

# Spellings used by CK+, JAFFE, RAF-DB, AffectNet and Kaggle re-uploads for the same 7 classes.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "an": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "fe": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "ha": "happy",
    "sad": "sad",
    "sadness": "sad",
    "sa": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
    "ne": "neutral",
}

# Real expression classes that some datasets have but FER2013 lacks: dropped with a warning, not an error.
KNOWN_OTHER_CLASSES: frozenset[str] = frozenset({"contempt", "co", "contemptuous"})


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")


_LOOKUP: dict[str, int] = {_key(alias): EMOTIONS.index(target) for alias, target in ALIASES.items()}
# "0".."6" folders (numbered by FER2013 label) are common too.
_LOOKUP.update({str(i): i for i in range(NUM_CLASSES)})


def label_for_folder(name: str) -> int | None:
    """The canonical label of a class folder name (case-insensitive, aliases allowed), or None."""
    return _LOOKUP.get(_key(name))


def is_known_other_class(name: str) -> bool:
    """True for a real emotion class outside FER2013's seven (e.g. contempt)."""
    return _key(name) in KNOWN_OTHER_CLASSES


def accepted_folder_names() -> str:
    """One line listing every accepted class folder name, for error messages."""
    parts = []
    for index, emotion in enumerate(EMOTIONS):
        aliases = sorted(a for a, t in ALIASES.items() if t == emotion and a != emotion)
        parts.append(f"{emotion} (or {index}, {', '.join(aliases)})")
    return "; ".join(parts)
