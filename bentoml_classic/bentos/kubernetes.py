"""``bentoml generate kubernetes``: a bento's two-tier topology as plain manifests.

One Deployment and Service per runner (``start-runner-server``), one for the API tier
(``start-http-server``, with ``BENTOML_RUNNER_MAP`` naming the runner Services), and a Secret
holding the ``BENTOML_RUNNER_TOKEN`` both tiers present. A composed service's dependencies get a
Deployment and Service each too (``start-service-server``), named in the same runner map. The
API tier is probed on ``/readyz`` and ``/livez``; a runner server speaks the runner protocol,
not HTTP, so its probes open a TCP connection (so does a dependency's). Resources come from each
runner's ``resources`` recorded in bento.yaml (the configuration in force at build time); an
optional HorizontalPodAutoscaler scales each tier on CPU.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

import yaml

from .bento import Bento, BentoRunnerRecord
from .environment import IMAGE_BENTO_PATH, IMAGE_UID

API_PORT = 3000
RUNNER_PORT = 3001
TOKEN_KEY = "BENTOML_RUNNER_TOKEN"


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    cpu_percent: int = 80


def k8s_name(*parts: str) -> str:
    """A DNS-1123 label from ``parts`` (bento and runner names may hold ``_`` and ``.``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:63].rstrip("-")


def _labels(bento: Bento, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": k8s_name(bento.tag.name),
        "app.kubernetes.io/version": k8s_name(bento.tag.version or "latest"),
        "app.kubernetes.io/component": k8s_name(component),
    }


def _resources(record: BentoRunnerRecord | None) -> dict[str, Any]:
    resources = record.resources if record else None
    if not resources:
        return {}
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    if resources.get("cpu") is not None:
        requests["cpu"] = limits["cpu"] = str(resources["cpu"])
    gpus = resources.get("nvidia.com/gpu")
    if gpus:
        limits["nvidia.com/gpu"] = len(gpus) if isinstance(gpus, list) else int(gpus)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _token_env(secret_name: str) -> dict[str, Any]:
    return {
        "name": TOKEN_KEY,
        "valueFrom": {"secretKeyRef": {"name": secret_name, "key": TOKEN_KEY}},
    }


def _deployment(
    bento: Bento,
    name: str,
    component: str,
    image: str,
    command: list[str],
    env: list[dict[str, Any]],
    port: int,
    probes: dict[str, Any],
    resources: dict[str, Any],
) -> dict[str, Any]:
    labels = _labels(bento, component)
    container: dict[str, Any] = {
        "name": k8s_name(component),
        "image": image,
        "command": command,
        "env": env,
        "ports": [{"containerPort": port, "name": "tcp" if port == RUNNER_PORT else "http"}],
        **probes,
    }
    if resources:
        container["resources"] = resources
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [container],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": IMAGE_UID},
                },
            },
        },
    }


def _service(bento: Bento, name: str, component: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(bento, component)},
        "spec": {
            "selector": _labels(bento, component),
            "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _autoscaler(name: str, scaling: Autoscaling) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def _tcp_probes(port: int) -> dict[str, Any]:
    return {
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
    }


def _http_probes(port: int) -> dict[str, Any]:
    return {
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": port}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/livez", "port": port},
            "periodSeconds": 10,
            "initialDelaySeconds": 5,
        },
    }


def kubernetes_manifests(
    bento: Bento,
    image: str | None = None,
    autoscaling: Autoscaling | None = None,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """The manifests, in the order ``kubectl apply`` should meet them."""
    app = k8s_name(bento.tag.name)
    image = image or f"{bento.tag.name}:{bento.tag.version}"
    secret_name = f"{app}-runner-token"
    manifests: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "labels": _labels(bento, "runner-token")},
            "type": "Opaque",
            "stringData": {TOKEN_KEY: token or secrets.token_urlsafe(32)},
        }
    ]
    runner_map: dict[str, str] = {}
    scaled = []
    for runner in bento.info.runners:
        if runner.embedded:
            continue
        name = k8s_name(app, "runner", runner.name)
        runner_map[runner.name] = f"tcp://{name}:{RUNNER_PORT}"
        command = [
            "bentoml",
            "start-runner-server",
            IMAGE_BENTO_PATH,
            "--runner-name",
            runner.name,
            "--host",
            "0.0.0.0",
            "--port",
            str(RUNNER_PORT),
        ]
        manifests.append(
            _deployment(
                bento,
                name,
                f"runner-{runner.name}",
                image,
                command,
                [_token_env(secret_name)],
                RUNNER_PORT,
                _tcp_probes(RUNNER_PORT),
                _resources(runner),
            )
        )
        manifests.append(_service(bento, name, f"runner-{runner.name}", RUNNER_PORT))
        scaled.append(name)
    # a composed service's dependencies (bento.yaml's graph, the entry first): each serves alone
    # and finds the runners and services it calls in the same map as the API tier
    dependencies = [node["name"] for node in bento.info.services[1:]]
    for service in dependencies:
        runner_map[service] = f"tcp://{k8s_name(app, 'service', service)}:{RUNNER_PORT}"
    for service in dependencies:
        name = k8s_name(app, "service", service)
        command = [
            "bentoml",
            "start-service-server",
            IMAGE_BENTO_PATH,
            "--service-name",
            service,
            "--host",
            "0.0.0.0",
            "--port",
            str(RUNNER_PORT),
        ]
        env = [
            {"name": "BENTOML_RUNNER_MAP", "value": json.dumps(runner_map, sort_keys=True)},
            _token_env(secret_name),
        ]
        manifests.append(
            _deployment(
                bento,
                name,
                f"service-{service}",
                image,
                command,
                env,
                RUNNER_PORT,
                _tcp_probes(RUNNER_PORT),
                {},
            )
        )
        manifests.append(_service(bento, name, f"service-{service}", RUNNER_PORT))
        scaled.append(name)
    api_name = k8s_name(app, "api")
    api_command = [
        "bentoml",
        "start-http-server",
        IMAGE_BENTO_PATH,
        "--host",
        "0.0.0.0",
        "--port",
        str(API_PORT),
    ]
    api_env = [
        {"name": "BENTOML_RUNNER_MAP", "value": json.dumps(runner_map, sort_keys=True)},
        _token_env(secret_name),
    ]
    manifests.append(
        _deployment(
            bento,
            api_name,
            "api",
            image,
            api_command,
            api_env,
            API_PORT,
            _http_probes(API_PORT),
            {},
        )
    )
    manifests.append(_service(bento, api_name, "api", API_PORT))
    scaled.append(api_name)
    if autoscaling is not None:
        manifests += [_autoscaler(name, autoscaling) for name in scaled]
    return manifests


class _PlainDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Writes a value shared by two places twice, never as a YAML anchor and alias (``&id001``),
    which people and some tools read badly."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_manifests(manifests: list[dict[str, Any]], output_dir: str) -> list[str]:
    """One file per manifest, ``<kind>-<name>.yaml``, in ``output_dir``; their paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for manifest in manifests:
        file_name = f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        path = os.path.join(output_dir, file_name)
        with open(path, "w", encoding="utf-8") as f:
            yaml.dump(manifest, f, Dumper=_PlainDumper, sort_keys=False)
        if manifest["kind"] == "Secret":
            os.chmod(path, 0o600)
        paths.append(path)
    return paths
