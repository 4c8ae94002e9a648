"""ferbench's library (settings, db, queue, urls) and the API and worker that use it never import the shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL = ("ferbench.cli", "ferbench.client", "ferbench.stack", "ferbench.services", "ferbench.serving",
         "ferbench.testing", "ferbench.dataset_pack")


def test_the_library_the_api_and_the_worker_never_import_the_application_shell() -> None:
    code = (
        "import sys\n"
        "import ferbench.settings, ferbench.db.models, ferbench.db.session, ferbench.db.experiments, ferbench.db.lifecycle, ferbench.db.leaderboard, ferbench.db.migrate\n"
        "import ferbench.queue, ferbench.urls, api.main, worker.celery_app\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SHELL!r})))\n"
    )
    env = {**os.environ, "FERBENCH_BROKER_URL": "redis://127.0.0.1:1/0"}  # the worker's app needs one; never dialled
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
