"""deploy/kubernetes/, checked without a cluster: every manifest parses and validates against the Kubernetes
schemas (kubernetes-validate, which ships them: no network), the kustomizations name files that exist,
and the manifests agree with the code: images and commands with the Dockerfile, the queue with the Celery
settings, the settings with ferbench/settings.py, the grace period with a graceful requeue."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ferbench.queue import GPU_QUEUE
from ferbench.settings import Settings
from worker.shutdown import GRACEFUL_REQUEUE_S

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
K8S_VERSION = kubernetes_validate.latest_version()
KEDA_KINDS = {"ScaledJob", "TriggerAuthentication"}  # KEDA's CRDs: not in the Kubernetes schemas
# The image each Dockerfile target becomes, as docker-compose.yml names them.
IMAGES = {"ferbench-api:latest": "api", "ferbench-worker:latest": "worker"}


def manifests() -> list[Path]:
    return sorted(p for p in KUBE.rglob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in manifests() for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str, name: str) -> dict[str, Any]:
    found = [doc for _, doc in documents() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "ScaledJob":
        return doc["spec"]["jobTargetRef"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def secret_keys(node: Any) -> set[str]:
    """Keys of Secret `ferbench-secrets` that a manifest reads (secretKeyRef, KEDA's secretTargetRef)."""
    if isinstance(node, list):
        return set().union(*(secret_keys(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["key"]} if node.get("name") == "ferbench-secrets" and "key" in node else set()
    return found.union(*(secret_keys(value) for value in node.values()))


def dockerfile_cmd(stage: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, flags=re.M | re.S))
    cmd = re.search(r"^CMD (\[.*\])$", stages[stage], flags=re.M)
    assert cmd, stage
    return yaml.safe_load(cmd.group(1))


def test_there_are_manifests_for_each_part() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in documents()}
    assert {("Deployment", "api"), ("Deployment", "mlflow"), ("Job", "ferbench-migrate"),
            ("ScaledJob", "ferbench-gpu-worker"), ("StatefulSet", "postgres"), ("Deployment", "redis")} <= kinds


@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(KUBE)))
def test_every_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] in KEDA_KINDS:
            continue  # below: their pod template as a Job, and their fields by hand
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_keda_objects_are_well_formed_and_the_job_template_validates() -> None:
    scaled = by_kind("ScaledJob", "ferbench-gpu-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "template"},
           "spec": scaled["spec"]["jobTargetRef"]}
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    spec = scaled["spec"]
    assert spec["minReplicaCount"] == 0 and spec["maxReplicaCount"] >= 1  # from zero
    assert spec["scalingStrategy"]["strategy"] == "accurate" and spec["rollout"]["strategy"] == "gradual"
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis" and int(trigger["metadata"]["listLength"]) == 1
    auth = by_kind("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} == {"address", "password"}


def test_the_trigger_reads_the_queue_the_worker_consumes() -> None:
    scaled = by_kind("ScaledJob", "ferbench-gpu-worker")
    command = pod_spec(scaled)["containers"][0]["command"]
    assert scaled["spec"]["triggers"][0]["metadata"]["listName"] == GPU_QUEUE == command[command.index("-Q") + 1]


def test_images_and_commands_agree_with_the_dockerfile() -> None:
    worker = pod_spec(by_kind("ScaledJob", "ferbench-gpu-worker"))["containers"][0]
    assert worker["image"] == "ferbench-worker:latest" and IMAGES[worker["image"]] == "worker"
    assert worker["command"] == dockerfile_cmd("worker")
    api = pod_spec(by_kind("Deployment", "api"))["containers"][0]
    assert api["image"] == "ferbench-api:latest"
    assert [part for part in api["command"] if part != "--proxy-headers"] == dockerfile_cmd("api")
    port = int(api["command"][api["command"].index("--port") + 1])
    assert api["ports"][0]["containerPort"] == port
    migrate = pod_spec(by_kind("Job", "ferbench-migrate"))["containers"][0]
    assert migrate["image"] == "ferbench-api:latest" and migrate["command"] == ["ferbench", "db", "upgrade"]
    mlflow = pod_spec(by_kind("Deployment", "mlflow"))["containers"][0]
    assert mlflow["image"] == "ferbench-mlflow:latest" and "EXPOSE 5000" in (ROOT / "mlflow" / "Dockerfile").read_text()


def test_gpu_workers_take_one_gpu_each_and_probe_with_celery_ping() -> None:
    container = pod_spec(by_kind("ScaledJob", "ferbench-gpu-worker"))["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    probe = " ".join(container["livenessProbe"]["exec"]["command"])
    assert "inspect ping" in probe and "worker.celery_app" in probe


def test_the_worker_grace_period_covers_a_graceful_requeue() -> None:
    spec = pod_spec(by_kind("ScaledJob", "ferbench-gpu-worker"))
    assert spec["terminationGracePeriodSeconds"] >= GRACEFUL_REQUEUE_S
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grace = compose["x-worker"]["stop_grace_period"]
    seconds = int(grace[:-1]) * {"m": 60, "s": 1}[grace[-1]]
    assert seconds >= GRACEFUL_REQUEUE_S


def test_probes_use_the_existing_health_checks() -> None:
    from api.main import create_app

    paths = set(create_app(Settings(database_url="sqlite://")).openapi()["paths"])
    api = pod_spec(by_kind("Deployment", "api"))["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health" and "/health" in paths
    assert api["livenessProbe"]["httpGet"]["path"] in paths | {"/openapi.json"}
    mlflow = pod_spec(by_kind("Deployment", "mlflow"))["containers"][0]
    assert mlflow["readinessProbe"]["httpGet"]["path"] == mlflow["livenessProbe"]["httpGet"]["path"] == "/health"


def test_configuration_names_are_settings_and_secrets_stay_out_of_config_maps() -> None:
    fields = {f"FERBENCH_{name.upper()}" for name in Settings.model_fields}
    config = by_kind("ConfigMap", "ferbench-config")["data"]
    assert {k for k in config if k.startswith("FERBENCH_")} <= fields
    assert not any(re.search(r"PASSWORD|SECRET|API_KEYS|DATABASE_URL|BROKER_URL", key) for key in config)
    assert int(config["FERBENCH_BROKER_VISIBILITY_TIMEOUT_S"]) > int(config["FERBENCH_TASK_HARD_TIME_LIMIT_S"])
    for _, doc in documents():
        if doc["kind"] in {"Deployment", "StatefulSet", "Job", "ScaledJob"}:
            for container in pod_spec(doc)["containers"]:
                for item in container.get("env", []):
                    assert "value" not in item or not re.search(r"PASSWORD|SECRET|DATABASE_URL", item["name"]), item


@pytest.mark.parametrize("overlay", ["bundled", "external"])
def test_overlays_make_every_secret_key_the_manifests_read(overlay: str) -> None:
    folder = KUBE / "overlays" / overlay
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == "ferbench-secrets" and kustomization["generatorOptions"]["disableNameSuffixHash"]
    example = folder / (generator["envs"][0] + ".example")
    keys = {line.split("=", 1)[0] for line in example.read_text().splitlines() if line and not line.startswith("#")}
    used = {key for path, doc in documents() if "overlays" not in path.parts or overlay in path.parts
            for key in secret_keys(doc)}
    assert used <= keys, used - keys
    assert f"deploy/kubernetes/overlays/*/{generator['envs'][0]}" in (ROOT / ".gitignore").read_text()


@pytest.mark.parametrize("kustomization", sorted(KUBE.rglob("kustomization.yaml")), ids=lambda p: p.parent.name)
def test_kustomizations_name_files_that_exist_and_leave_none_out(kustomization: Path) -> None:
    content = yaml.safe_load(kustomization.read_text())
    listed = {(kustomization.parent / entry).resolve() for entry in content["resources"]}
    assert all(path.exists() for path in listed), listed
    beside = {p.resolve() for p in kustomization.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert beside <= listed, beside - listed


def test_the_worker_liveness_command_is_a_valid_shell_line() -> None:
    command = pod_spec(by_kind("ScaledJob", "ferbench-gpu-worker"))["containers"][0]["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and shlex.split(command[2])[:3] == ["celery", "-A", "worker.celery_app"]
