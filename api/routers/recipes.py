"""GET /recipes: the named recipes a submission can start from (TF-free)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from api.deps import require_read_key
from api.schemas import RecipeOut

router = APIRouter(tags=["recipes"], dependencies=[Depends(require_read_key)])


@router.get("/recipes", response_model=list[RecipeOut])
def recipes() -> list[dict[str, Any]]:
    """Every recipe: model, source, the figure the source reports, and every setting it trains with."""
    from fer_models.training.recipes import list_recipes

    return [recipe.to_dict() for recipe in list_recipes()]


@router.get("/recipes/{name}", response_model=RecipeOut, responses={404: {"description": "No such recipe"}})
def recipe(name: str) -> dict[str, Any]:
    """One recipe by name; 404 names the recipes that exist."""
    from fer_models.errors import SpecError
    from fer_models.training.recipes import get_recipe

    try:
        return get_recipe(name).to_dict()
    except SpecError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
