"""Local server processes the stack starts, Redis and the MLflow tracking server (application shell)."""
