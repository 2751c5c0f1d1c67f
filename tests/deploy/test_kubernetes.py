"""deploy/kubernetes: the production overlay rendered by `kubectl kustomize` and every object of it validated
against the Kubernetes schemas (kubernetes-validate, strict: an unknown field is an error); what the schemas
cannot see: probes on the ports the processes serve, a disruption budget for each workload, autoscalers on
real Deployments, the Ingress's limits equal to the proxy's, the provisioned streams and consumers equal to
what the services would create, and the NATS chart's values.

Not validated against a schema: the custom resources of CloudNativePG (Cluster, Database, ScheduledBackup)
and of NACK (Stream, Consumer). Their CRDs are not shipped by any package this project installs, and this
machine reaches no other source to vendor them from; their fields are checked below against the settings
they must match instead, and the operators validate them when they are applied."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import ROOT, find_tool

KUBERNETES = ROOT / "deploy/kubernetes"
PROXY_TEMPLATE = ROOT / "deploy/nginx/templates/engagements.conf.template"
# The oldest Kubernetes still supported upstream when this was written, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
NOT_VALIDATED = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("jetstream.nats.io/v1beta2", "Stream"),
    ("jetstream.nats.io/v1beta2", "Consumer"),
}


@cache
def _render(overlay: str) -> str:
    kubectl = find_tool("kubectl")
    result = subprocess.run(
        [str(kubectl), "kustomize", str(KUBERNETES / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def rendered(overlay: str = "overlays/production") -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_render(overlay)) if doc]


def of_kind(kind: str, objects: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects or rendered() if obj["kind"] == kind}


def _seconds(directive: str) -> str:
    match = re.search(rf"^\s*{directive} (\d+)s;$", PROXY_TEMPLATE.read_text(), flags=re.MULTILINE)
    assert match, directive
    return match.group(1)


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_follows_the_kubernetes_schemas(overlay: str, version: str) -> None:
    unvalidated = set()
    for obj in rendered(overlay):
        kind = (obj["apiVersion"], obj["kind"])
        if kind in NOT_VALIDATED:
            unvalidated.add(kind)
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {error.message} at {list(error.path)}")
    # A new custom resource is not left out without saying so (the base has no scheduled backup).
    assert unvalidated == NOT_VALIDATED if overlay != "base" else unvalidated <= NOT_VALIDATED


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = of_kind("Deployment")["commitments-api"]
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)


def test_the_production_overlay_sets_namespace_image_and_hosts() -> None:
    objects = rendered()
    assert {obj["metadata"].get("namespace") for obj in objects if obj["kind"] != "Namespace"} == {
        "engagements"
    }
    images = {
        container["image"]
        for obj in objects
        if obj["kind"] in ("Deployment", "Job")
        for container in obj["spec"]["template"]["spec"].get("initContainers", [])
        + obj["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1 and re.fullmatch(r"[\w.-]+/engagements:[\w.-]+", images.pop())
    ingress = of_kind("Ingress", objects)["engagements"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert sorted(hosts) == sorted(ingress["spec"]["tls"][0]["hosts"]) and len(hosts) == 3
    assert of_kind("Cluster", objects)["engagements-db"]["spec"]["instances"] == 3


def test_each_process_has_probes_on_the_port_it_serves() -> None:
    for name, deployment in of_kind("Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        env = {item["name"]: item.get("value") for item in container["env"]}
        probes = {
            kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        assert probes["readinessProbe"]["path"] == "/readyz", name
        assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/healthz", name
        port = ports[probes["readinessProbe"]["port"]]
        assert all(ports[probe["port"]] == port for probe in probes.values()), name
        if container["args"][1] == "serve":
            assert container["args"][container["args"].index("--port") + 1] == str(port), name
            assert "HEALTH_PORT" not in env, name
        else:
            assert env["HEALTH_PORT"] == str(port), name
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
        assert container["securityContext"]["readOnlyRootFilesystem"], name


def test_every_workload_has_a_disruption_budget_and_the_scalable_ones_an_autoscaler() -> None:
    deployments = of_kind("Deployment")
    for name, budget in of_kind("PodDisruptionBudget").items():
        selector = budget["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployments[name]["spec"]["template"]["metadata"]["labels"].items()
    assert set(of_kind("PodDisruptionBudget")) == set(deployments)
    autoscalers = of_kind("HorizontalPodAutoscaler")
    for name, autoscaler in autoscalers.items():
        assert autoscaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert autoscaler["spec"]["minReplicas"] >= 2
        assert "replicas" not in deployments[name]["spec"], f"{name}: the autoscaler sets the replicas"
    # One at a time, replaced rather than doubled during a rollout: the projector applies events in stream order.
    for single in ("reporting-projector", "notifications-relay"):
        assert single not in autoscalers and deployments[single]["spec"]["replicas"] == 1
        assert deployments[single]["spec"]["strategy"]["type"] == "Recreate"
    assert {
        "commitments-api",
        "commitments-relay",
        "commitments-scanner",
        "notifications-api",
        "notifications-worker",
        "reporting-api",
    } <= set(autoscalers)


def test_the_same_commands_as_the_compose_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    compose_commands = {
        tuple(spec["command"][:2])
        for spec in compose.values()
        if "command" in spec and str(spec["command"][0]).startswith("services.")
    }
    job = of_kind("Job")["engagements-migrate"]["spec"]["template"]["spec"]
    kubernetes_commands = {
        tuple(c["args"][:2])
        for d in of_kind("Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    kubernetes_commands |= {tuple(c["args"][:2]) for c in job["initContainers"] + job["containers"]}
    assert kubernetes_commands == compose_commands


def test_the_ingress_has_the_proxys_limits() -> None:
    annotations = of_kind("Ingress")["engagements"]["metadata"]["annotations"]
    template = PROXY_TEMPLATE.read_text()
    assert f"client_max_body_size {annotations['nginx.ingress.kubernetes.io/proxy-body-size']};" in template
    for annotation, directive in (
        ("proxy-connect-timeout", "proxy_connect_timeout"),
        ("proxy-send-timeout", "proxy_send_timeout"),
        ("proxy-read-timeout", "proxy_read_timeout"),
    ):
        assert annotations[f"nginx.ingress.kubernetes.io/{annotation}"] == _seconds(directive), annotation
    controller = yaml.safe_load((KUBERNETES / "ingress-nginx/values.yaml").read_text())["controller"][
        "config"
    ]
    for key, directive in (
        ("client-header-timeout", "client_header_timeout"),
        ("client-body-timeout", "client_body_timeout"),
        ("keep-alive", "keepalive_timeout"),
    ):
        assert controller[key] == _seconds(directive), key
    assert f"large_client_header_buffers {controller['large-client-header-buffers']};" in template


def test_the_streams_and_consumers_are_what_the_services_would_create() -> None:
    from services.notifications.config import NotificationsSettings

    settings = NotificationsSettings()
    streams = {obj["spec"]["name"]: obj["spec"] for obj in of_kind("Stream").values()}
    commitments = streams[settings.events_stream]
    assert commitments["subjects"] == [f"{settings.events_subject_prefix}.>"]
    assert commitments["duplicateWindow"] == f"{settings.events_duplicate_window_seconds / 3600:g}h"
    for spec in streams.values():
        assert spec["replicas"] == 3 and spec["storage"] == "file"
        assert "maxAge" not in spec and "maxMsgs" not in spec  # the whole history, for reporting's rebuild
    consumers = {obj["spec"]["durableName"]: obj["spec"] for obj in of_kind("Consumer").values()}
    reminders = consumers[settings.consumer_durable]
    assert reminders["filterSubject"] == f"{settings.events_subject_prefix}.deadline.>"
    assert reminders["ackWait"] == f"{settings.consumer_ack_wait_seconds:g}s"
    assert reminders["maxDeliver"] == settings.consumer_max_deliver
    assert reminders["maxAckPending"] == max(1000, 4 * settings.consumer_batch_size)
    webhooks = consumers[settings.webhook_consumer_durable]
    assert webhooks["filterSubject"] == f"{settings.events_subject_prefix}.>"
    assert webhooks["ackWait"] == f"{settings.consumer_ack_wait_seconds:g}s"
    for spec in consumers.values():
        assert spec["streamName"] == settings.events_stream and spec["ackPolicy"] == "explicit"
        assert spec["replicas"] == 3


def test_nats_runs_three_servers_with_durable_jetstream() -> None:
    values = yaml.safe_load((KUBERNETES / "nats/values.yaml").read_text())["config"]
    assert values["cluster"] == {"enabled": True, "replicas": 3}
    assert values["jetstream"]["enabled"] and values["jetstream"]["fileStore"]["pvc"]["enabled"]
    assert values["jetstream"]["merge"]["sync_interval"] == "always"


def test_the_relays_run_on_their_own() -> None:
    config_maps = of_kind("ConfigMap")
    commitments = next(data for name, data in config_maps.items() if name.startswith("commitments-config"))
    assert commitments["data"]["RELAY_IN_PROCESS"] == "false"
    worker = of_kind("Deployment")["notifications-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "OUTBOX_RELAY_IN_WORKER", "value": "false"} in worker["env"]
