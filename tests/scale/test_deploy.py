"""deploy/: what can be checked without a Docker engine, compose or a Kubernetes cluster.

Compose file and Helm values parse and name only what exists; every file a Dockerfile copies
is in the repository (models/ and deploy/wheels/ are build artefacts, see deploy/README.md);
HAProxy accepts its configuration; the entrypoint is valid sh.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
BUILD_ARTEFACTS = ("models/", "deploy/wheels/")
# Top-level keys of the published charts' values.yaml (github.com/RasaHQ/helm-charts:
# charts/rasa 1.17.8, charts/rasa-action-server 1.0.9).
CHART_KEYS = {
    "rasa-values.yaml": set(
        "nameOverride fullnameOverride registry applicationSettings replicaCount hostAliases "
        "networkPolicy args extraArgs command extraEnv image serviceAccount podAnnotations "
        "podLabels deploymentAnnotations deploymentLabels podSecurityContext securityContext "
        "service ingress resources autoscaling nodeSelector tolerations affinity strategy "
        "livenessProbe readinessProbe initContainers extraContainers volumes volumeMounts "
        "global postgresql redis rabbitmq nginx rasa-action-server duckling".split()),
    "rasa-action-server-values.yaml": set(
        "nameOverride fullnameOverride registry applicationSettings replicaCount hostAliases "
        "args command extraEnv image serviceAccount podAnnotations podLabels "
        "deploymentAnnotations deploymentLabels podSecurityContext securityContext service "
        "ingress resources autoscaling nodeSelector tolerations affinity strategy "
        "livenessProbe readinessProbe initContainers volumes volumeMounts".split()),
}


def test_compose_runs_every_process_with_shared_stores():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"rasa", "actions", "backend", "postgres", "redis", "loadbalancer"} <= set(services)
    assert services["rasa"]["deploy"]["replicas"] >= 2
    assert services["actions"]["deploy"]["replicas"] >= 2
    rasa_env = services["rasa"]["environment"]
    assert rasa_env["RASA_TRACKER_URL"].startswith("postgresql://")
    assert rasa_env["REDIS_URL"].startswith("redis://")
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).exists(), name


@pytest.mark.parametrize("dockerfile", ["rasa.Dockerfile", "actions.Dockerfile",
                                        "backend.Dockerfile"])
def test_dockerfiles_copy_only_what_exists(dockerfile):
    text = (DEPLOY / dockerfile).read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert base in {"rasa/rasa:3.6.21", "rasa/rasa-sdk:3.6.2", "python:3.11-slim"}
    for sources in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in sources.split():
            if source.startswith(BUILD_ARTEFACTS):
                continue
            assert (ROOT / source).exists(), f"{dockerfile}: {source}"
    assert "USER 1001" in text  # never root at run time


@pytest.mark.parametrize("values", sorted(CHART_KEYS))
def test_helm_values_use_the_published_charts_keys(values):
    parsed = yaml.safe_load((DEPLOY / "helm" / values).read_text())
    assert set(parsed) <= CHART_KEYS[values], set(parsed) - CHART_KEYS[values]
    assert parsed["replicaCount"] >= 2
    env = {item["name"] for item in parsed["extraEnv"]}
    assert "ACTION_SERVER_TOKEN" in env and "ASSISTANT_ENV" in env
    secrets = [item for item in parsed["extraEnv"] if "TOKEN" in item["name"]
               or "SECRET" in item["name"]]
    assert all("valueFrom" in item for item in secrets)  # never a secret in the values


def test_haproxy_and_entrypoint_are_valid():
    assert subprocess.run(["sh", "-n", str(DEPLOY / "rasa-entrypoint.sh")]).returncode == 0
    if not shutil.which("haproxy"):
        pytest.skip("haproxy not installed (make setup)")
    checked = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
