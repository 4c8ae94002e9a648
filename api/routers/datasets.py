"""GET /datasets: what datasets this server knows and whether they are present."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import get_settings_dep, require_read_key
from ferbench.settings import Settings

router = APIRouter(tags=["datasets"], dependencies=[Depends(require_read_key)])


@router.get("/datasets")
def datasets(settings: Settings = Depends(get_settings_dep)) -> list[dict[str, Any]]:
    """Every dataset: name, whether present, classes, split sizes, how to get it."""
    from fer_models.data.catalog import list_datasets

    out = []
    for info in list_datasets(settings.data_dir, settings.cache_dir):
        data = info.to_dict()
        data.pop("source", None)  # a server path: not the client's business
        out.append(data)
    return out
