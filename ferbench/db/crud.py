"""Kept only for api/routers/leaderboard.py, which calls `crud.leaderboard` and is being edited on another
branch of issue 16: its import moves to ferbench.db.leaderboard there, and this module goes.

The SQL layer lives in experiments.py, lifecycle.py, outbox.py, leaderboard.py and hashing.py.
"""

from ferbench.db.leaderboard import leaderboard

__all__ = ["leaderboard"]
