"""Local server processes the stack starts (Redis, MLflow tracking server)."""
