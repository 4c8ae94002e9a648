"""The Celery worker: claims experiments from queue `gpu` and runs them through fer_models."""
