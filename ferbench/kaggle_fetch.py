"""`ferbench datasets fetch fer2013`: download a dataset from Kaggle into the data folder, as its zip.

Kaggle's REST API (`GET {api}/datasets/download/{owner}/{slug}`, HTTP basic auth with the user's
Kaggle username and API key, answered with a redirect to the file) is what Kaggle's own download
button and its command-line tool 1.x use. It is called with httpx rather than through the `kaggle`
package: that package's 2.x client talks to fixed endpoints only (so it cannot be pointed at a
mirror or a test stand-in), and importing it has side effects (it creates a config folder, tries to
authenticate and may print or exit). The credentials are looked up where Kaggle's tools keep them.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from fer_models.errors import FerBenchError

# name in FER Bench -> Kaggle dataset (owner/slug)
KAGGLE_DATASETS = {"fer2013": "msambare/fer2013"}
CHUNK = 1 << 20
HOW_TO_GET_A_TOKEN = ("create an API token at kaggle.com -> Settings -> API -> Create New Token and save it as "
                      "~/.kaggle/kaggle.json (or set KAGGLE_USERNAME and KAGGLE_KEY)")


class FetchError(FerBenchError):
    """A download could not be made; the message says what to do."""


@dataclass(frozen=True)
class KaggleCredentials:
    username: str
    key: str
    source: str  # where they were found, for messages (never the key itself)


def _config_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    dirs = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else []
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return [*dirs, home / ".kaggle", xdg / "kaggle"]


def find_credentials(env: Mapping[str, str] | None = None, home: Path | None = None) -> KaggleCredentials | None:
    """KAGGLE_USERNAME and KAGGLE_KEY, else the first kaggle.json of Kaggle's tools' folders."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return KaggleCredentials(env["KAGGLE_USERNAME"], env["KAGGLE_KEY"], "KAGGLE_USERNAME/KAGGLE_KEY")
    for folder in _config_dirs(env, home):
        path = folder / "kaggle.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
            return KaggleCredentials(str(data["username"]), str(data["key"]), str(path))
        except (OSError, ValueError, KeyError, TypeError):
            raise FetchError(f"{path} is not a Kaggle token (JSON with username and key); {HOW_TO_GET_A_TOKEN}") from None
    return None


def _refusal(status: int, credentials: KaggleCredentials, dataset: str) -> FetchError:
    if status in (401, 403):
        return FetchError(f"Kaggle refused the credentials from {credentials.source} (HTTP {status}); check them, "
                          f"or {HOW_TO_GET_A_TOKEN}")
    if status == 404:
        return FetchError(f"Kaggle has no dataset {dataset} (HTTP 404)")
    return FetchError(f"Kaggle answered HTTP {status} for {dataset}; retry later")


def _check_archive(path: Path, dataset: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise FetchError(f"the download of {dataset} is not a zip file; retry later") from None
    if not names:
        raise FetchError(f"the download of {dataset} is an empty zip file; retry later")


def fetch(name: str, data_dir: Path, *, api_url: str, credentials: KaggleCredentials, force: bool = False,
          timeout_s: float = 60.0, on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
    """Downloads `name` into `data_dir/<name>.zip` (written whole or not at all) and returns its path."""
    if name not in KAGGLE_DATASETS:
        raise FetchError(f"cannot fetch {name!r}; fetchable: {', '.join(KAGGLE_DATASETS)}")
    dataset = KAGGLE_DATASETS[name]
    target = Path(data_dir) / f"{name}.zip"
    if target.exists() and not force:
        raise FetchError(f"{target} is already there; pass --force to download it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    url = f"{api_url.rstrip('/')}/datasets/download/{dataset}"
    try:
        # httpx drops the Authorization header when the redirect leaves Kaggle's host for the file store.
        with httpx.Client(auth=(credentials.username, credentials.key), follow_redirects=True,
                          timeout=httpx.Timeout(timeout_s, connect=10.0)) as client, client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise _refusal(answer.status_code, credentials, dataset)
            total = int(answer.headers["content-length"]) if answer.headers.get("content-length", "").isdigit() else None
            done = 0
            with open(partial, "wb") as out:
                for chunk in answer.iter_bytes(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if on_bytes:
                        on_bytes(done, total)
        _check_archive(partial, dataset)
        partial.replace(target)
    except httpx.TransportError as exc:
        host = httpx.URL(url).host
        raise FetchError(f"could not reach Kaggle at {host} ({type(exc).__name__}); check the network, or download "
                         f"https://www.kaggle.com/datasets/{dataset} by hand and put the zip in {data_dir}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target
