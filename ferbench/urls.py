"""How service URLs are judged and shown, the same in the API, the CLI and the stack launcher."""

from __future__ import annotations


def is_http_url(url: str | None) -> bool:
    """Whether `url` names a server reachable over http(s) (an MLflow tracking server has a UI; a store has not)."""
    return url is not None and url.startswith(("http://", "https://"))


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by `***`, for printing (broker and database URLs carry them)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
