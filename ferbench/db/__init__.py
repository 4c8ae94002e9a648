"""The SQL layer: tables (models.py), sessions (session.py), every query (crud.py), migrations."""
