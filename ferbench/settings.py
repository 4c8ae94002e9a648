"""The one settings object: every knob comes from the environment (names fixed in DESIGN.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fer_models.training.spec import CAPS, MAX_BATCH_SIZE, MAX_EPOCHS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FERBENCH_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path("./var"), description="State folder for the embedded defaults")
    data_dir: Path = Field(default=Path("./data"), description="Where datasets are looked for")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under home")
    broker_url: str | None = Field(default=None, description="Redis URL; unset: `ferbench up` starts one")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "FERBENCH_MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; unset: `ferbench up` starts `mlflow server`",
    )
    api_keys: str = Field(default="", description="Comma-separated keys; when set, write endpoints need X-API-Key")
    read_requires_key: bool = Field(default=False, description="Also require X-API-Key on read endpoints")
    cors_origins: str = Field(default="", description="Comma-separated CORS allow-list")
    max_epochs: int = Field(default=500, ge=1, le=MAX_EPOCHS, description="Server cap on epochs per experiment")
    max_batch_size: int = Field(default=1024, ge=1, le=MAX_BATCH_SIZE, description="Server cap on batch size")
    max_body_bytes: int = Field(default=1_000_000, description="Largest accepted request body")
    task_soft_time_limit_s: int = Field(default=12 * 3600, description="Celery soft time limit of a training task")
    task_hard_time_limit_s: int = Field(default=13 * 3600, description="Celery hard time limit of a training task")
    max_attempts: int = Field(default=3, description="Deliveries of one experiment before it is failed")
    broker_visibility_timeout_s: int | None = Field(
        default=None, description="Redis visibility timeout of a delivered task; unset: hard time limit + 600 s")
    heartbeat_interval_s: float = Field(default=15.0, description="How often a running task refreshes its heartbeat")
    heartbeat_stale_s: float = Field(default=300.0, description="A running job with an older heartbeat has lost its worker")
    reaper_interval_s: float = Field(default=60.0, description="How often each worker looks for jobs of dead workers")
    max_sweep_trials: int = Field(default=200, ge=1, description="Server cap on the trials of one sweep")
    max_sweep_parallel: int = Field(default=8, ge=1, description="Server cap on the trials of one sweep run at once")
    db_write_attempts: int = Field(default=6, description="Tries of one worker database write before giving up")
    kaggle_api_url: str = Field(default="https://www.kaggle.com/api/v1",
                                description="Kaggle's REST API, for `ferbench datasets fetch` (a mirror or a test stand-in)")
    max_upload_bytes: int = Field(default=2_000_000_000, ge=1,
                                  description="Largest dataset upload (POST /datasets); refused before it is stored")
    dataset_cache_bytes: int = Field(default=20_000_000_000, ge=0,
                                     description="A worker's local cache of uploaded datasets, least recently used evicted first")
    worker_idle_exit_s: float | None = Field(default=None, gt=0,
                                             description="A worker exits after this long without a task (KEDA ScaledJob pods); unset: never")
    # Predictions (issue 13): the serving process and what /predict accepts.
    serve_url: str | None = Field(default=None, description="The serving process the API's POST /predict forwards "
                                                            "to; unset: http://FERBENCH_SERVE_HOST:FERBENCH_SERVE_PORT")
    serve_host: str = "127.0.0.1"
    serve_port: int = 8100
    serve_refresh_s: float = Field(default=2.0, gt=0, description="How often the serving process checks where "
                                                                  "the aliases it serves point")
    max_predict_bytes: int = Field(default=20_000_000, ge=1, description="Largest POST /predict body")
    max_image_pixels: int = Field(default=40_000_000, ge=1, description="Largest image (width x height) /predict "
                                                                        "decodes; checked before decoding")
    max_images_per_request: int = Field(default=512, ge=1, description="Most images in one POST /predict")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    mlflow_host: str = "127.0.0.1"
    mlflow_port: int = 5000

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'ferbench.db').resolve()}"

    @property
    def spec_caps(self) -> dict[str, int]:
        """The spec validation context that makes the caps the ranges in force (fer_models.training.spec.CAPS)."""
        return {CAPS["epochs"]: self.max_epochs, CAPS["batch_size"]: self.max_batch_size}

    @property
    def resolved_serve_url(self) -> str:
        return (self.serve_url or f"http://{self.serve_host}:{self.serve_port}").rstrip("/")

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def dataset_pool_dir(self) -> Path:
        """Uploaded datasets' caches downloaded by this worker (bounded by dataset_cache_bytes)."""
        return self.home / "dataset-pool"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
