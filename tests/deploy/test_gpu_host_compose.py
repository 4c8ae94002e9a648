"""deploy/compose/gpu-host.yml, checked statically: a GPU host's workers run the documented command, on the
stack's services (required, never defaulted), with one GPU each, a grace period that covers a graceful
requeue, and the host's shared pool of uploaded datasets where the settings put it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ferbench.settings import Settings
from worker.shutdown import GRACEFUL_REQUEUE_S

ROOT = Path(__file__).resolve().parents[2]
HOST = yaml.safe_load((ROOT / "deploy" / "compose" / "gpu-host.yml").read_text())
MAIN = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
WORKER = HOST["services"]["worker"]


def test_only_workers_run_on_a_gpu_host_with_the_stacks_command() -> None:
    assert set(HOST["services"]) == {"worker"}
    assert WORKER["command"] == MAIN["x-worker"]["command"]
    assert WORKER["build"]["target"] == MAIN["x-worker"]["build"]["target"] == "worker"
    assert (Path(ROOT / "deploy" / "compose") / WORKER["build"]["context"]).resolve() == ROOT


def test_the_services_urls_are_required_and_every_variable_is_a_setting() -> None:
    env = WORKER["environment"]
    for name in ("FERBENCH_DATABASE_URL", "FERBENCH_BROKER_URL", "MLFLOW_TRACKING_URI"):
        assert re.fullmatch(r"\$\{" + name + r":\?.+\}", env[name]), env[name]
    fields = {f"FERBENCH_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in env if k.startswith("FERBENCH_")} <= fields


def test_one_gpu_each_and_a_grace_period_for_a_graceful_requeue() -> None:
    (device,) = WORKER["deploy"]["resources"]["reservations"]["devices"]
    assert device["count"] == 1 and device["capabilities"] == ["gpu"]
    grace = WORKER["stop_grace_period"]
    assert int(grace[:-1]) * {"m": 60, "s": 1}[grace[-1]] >= GRACEFUL_REQUEUE_S


def test_the_hosts_workers_share_the_dataset_pool_where_the_settings_put_it() -> None:
    settings = Settings(home=Path(WORKER["environment"]["FERBENCH_HOME"]))
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in WORKER["volumes"]}
    assert mounts[str(settings.dataset_pool_dir)] in HOST["volumes"]
