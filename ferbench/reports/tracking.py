"""One MLflow run per report, in MLflow experiment `ferbench-reports`: the table's files and what it was made of.

The run carries tag `ferbench.kind=report` and no `model` tag, so it is never taken for a training run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPORTS_EXPERIMENT = "reports"  # RunLogger prefixes it: MLflow experiment "ferbench-reports"
ARTIFACT_DIR = "report"


def log_report_run(tracking_uri: str, *, name: str, params: Mapping[str, Any], files: Mapping[str, bytes]) -> str:
    """Open a run, log `params` and each of `files` (file name -> content) under `report/`; the run's id."""
    from fer_models.tracking.run_logger import RunLogger

    logger = RunLogger(tracking_uri)
    run_id = logger.open(REPORTS_EXPERIMENT, run_id=None, run_name=name, tags={"ferbench.kind": "report"})
    try:
        logger.log_params(params)
        with tempfile.TemporaryDirectory(prefix="ferbench-report-") as tmp:
            for file_name, content in files.items():
                path = Path(tmp) / file_name
                path.write_bytes(content)
                logger.log_artifact(path, ARTIFACT_DIR)
    except BaseException as exc:
        logger.finish("FAILED", error=str(exc))
        raise
    logger.finish("FINISHED")
    return run_id
