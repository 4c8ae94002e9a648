"""The SQL layer: tables (models.py), sessions (session.py), migrations (migrate.py, migrations/), and the
queries by job: experiments.py (create, read, list, cancel), lifecycle.py (claim to finish, lost workers),
outbox.py (rows waiting for the broker), leaderboard.py (result groups and ranking), hashing.py (spec keys)."""
