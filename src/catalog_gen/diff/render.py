"""One service's helm inputs, and the chart rendered with them into resources.

The inputs are what Argo CD hands helm for the service: the chart, the values file catalog-gen
writes (emit/values.py, byte for byte; on the base side the committed one where there is one:
command.py), the release name (the service) and the destination namespace (emit/argocd.py).
Their digest decides which services are rendered at all.

Rendered resources are re-serialized with sorted keys and multi-line strings as literal blocks,
so a diff shows what changes in the objects, not how a template happens to lay them out; nothing
else is taken away (the chart's output has no timestamps or random parts).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.emitter import ScalarAnalysis

from catalog_gen.check.chart_contract import ChartContractError
from catalog_gen.emit.argocd import destination_namespace
from catalog_gen.emit.values import emit_values
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.sizing import quantity_bytes

# How a resource template of the chart asks whether the cluster serves an API
# (templates/_routes.tpl oil.hasApi, templates/_autoscaling.tpl oil.requireApi):
# `(list . "<group/version>" "<Kind>")`, `$` for `.` alike.
_API_ASKED = re.compile(r'include "oil\.(?:hasApi|requireApi)" \(list [.$] "([^"]+)" "([^"]+)"')
_API_CALL = re.compile(r'include "oil\.(?:hasApi|requireApi)"')


@functools.cache  # the chart does not change during a run: read once, not per service
def chart_api_versions(chart: Path) -> tuple[str, ...]:
    """Every custom API the chart's resource templates render only where the cluster serves it
    (HTTPRoute, Gateway, SecurityPolicy, Certificate, the autoscaling resources), as Argo CD
    passes them to helm on a cluster that serves them all: read from the templates, their one
    owner (`diff` and `make run` render as that cluster would; a list kept here missed Envoy
    Gateway's SecurityPolicy, and every service of an environment with authentication failed
    to render). A call the pattern does not read is an error, not an API left out."""
    found: set[str] = set()
    for template in sorted((chart / "templates").rglob("*.yaml")):
        text = template.read_text(encoding="utf-8")
        asked = _API_ASKED.findall(text)
        if len(asked) != len(_API_CALL.findall(text)):
            raise ChartContractError(
                f"{template}: an API check catalog-gen cannot read (it reads "
                '`include "oil.hasApi" (list . "<group/version>" "<Kind>")`)'
            )
        found.update(f"{group_version}/{kind}" for group_version, kind in asked)
    return tuple(sorted(found))


HELM_TIMEOUT_SECONDS = 300
RENDER_WORKERS = 4


class RenderError(Exception):
    """helm refused a service's values on one side."""


@dataclass(frozen=True)
class Footprint:
    """What a service takes from its environment at most: replicas (maxReplicas under
    autoscaling) times the GPUs and the Ollama container's memory of one replica."""

    gpus: int
    memory_requests: int  # bytes
    memory_limits: int  # bytes


@dataclass(frozen=True)
class ServiceInputs:
    key: str  # <env>/<namespace>/<service>
    environment: str
    release: str
    namespace: str
    values: bytes
    footprint: Footprint
    # Whether an object the chart stops rendering is deleted: helm deletes it, Argo CD only
    # where the environment's argocd.syncPolicy.prune is on.
    prunes: bool = True

    def digest(self, chart_digest: str) -> str:
        hasher = hashlib.sha256()
        for part in (chart_digest, self.release, self.namespace):
            hasher.update(part.encode() + b"\0")
        hasher.update(self.values)
        return hasher.hexdigest()


@dataclass(frozen=True)
class Resource:
    kind: str
    namespace: str
    name: str
    text: str  # the object as canonical YAML

    @property
    def title(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def service_inputs(plan: ServicePlan) -> ServiceInputs:
    return ServiceInputs(
        key=plan.relative_dir.as_posix(),
        environment=plan.environment_name,
        release=plan.service_name,
        namespace=destination_namespace(plan.environment, plan.namespace),
        values=emit_values(plan)["values.yaml"],
        footprint=footprint(plan),
        prunes=plan.environment.argocd is None or plan.environment.argocd.sync_policy.prune,
    )


def footprint(plan: ServicePlan) -> Footprint:
    return effective_footprint(plan.effective)


def effective_footprint(effective: Mapping[str, Any]) -> Footprint:
    """The footprint of the chart values helm renders (the defaults coalesced with a values
    file): what a plan's replicas, gpu and resources are made of (plan/service.py)."""
    autoscaling = effective.get("autoscaling")
    replicas = int(effective.get("replicaCount", 1))
    if isinstance(autoscaling, Mapping) and autoscaling.get("enabled"):
        replicas = int(autoscaling.get("maxReplicas", replicas))
    gpu = effective.get("gpu")
    gpus = int(gpu.get("count", 0)) if isinstance(gpu, Mapping) else 0
    resources = effective.get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    return Footprint(
        gpus=replicas * gpus,
        memory_requests=replicas * _memory(resources, "requests"),
        memory_limits=replicas * _memory(resources, "limits"),
    )


def _memory(resources: Mapping[str, Any], which: str) -> int:
    section = resources.get(which)
    value = section.get("memory") if isinstance(section, Mapping) else None
    return quantity_bytes(value) if isinstance(value, str | int | float) else 0


def chart_digest(chart: Path) -> str:
    """A digest of every file in the chart folder (names and contents)."""
    hasher = hashlib.sha256()
    for path in sorted(chart.rglob("*")):
        if path.is_file():
            hasher.update(path.relative_to(chart).as_posix().encode() + b"\0")
            hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return hasher.hexdigest()


def render_service(helm: Path, chart: Path, inputs: ServiceInputs) -> list[Resource]:
    """`helm template` as Argo CD runs it for the service, split into resources."""
    with tempfile.TemporaryDirectory(prefix="catalog-gen-diff-") as temporary:
        values = Path(temporary) / "values.yaml"
        values.write_bytes(inputs.values)
        command = [str(helm), "template", inputs.release, str(chart)]
        command += ["--namespace", inputs.namespace, "--values", str(values)]
        for api_version in chart_api_versions(chart):
            command += ["--api-versions", api_version]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=HELM_TIMEOUT_SECONDS
        )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip() or f"helm exited {result.returncode}")
    return split_resources(result.stdout, inputs.namespace)


def split_resources(manifests: str, namespace: str) -> list[Resource]:
    """helm's output as resources sorted by kind, namespace and name (a repeated one numbered)."""
    resources: list[Resource] = []
    seen: dict[str, int] = {}
    for document in yaml.safe_load_all(manifests):
        if not isinstance(document, dict):
            continue
        metadata = document.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        kind = str(document.get("kind", "?"))
        name = str(metadata.get("name", "?"))
        where = str(metadata.get("namespace") or namespace)
        title = f"{kind}/{where}/{name}"
        seen[title] = seen.get(title, 0) + 1
        if seen[title] > 1:
            name = f"{name}#{seen[title]}"
        resources.append(Resource(kind, where, name, canonical_yaml(document)))
    return sorted(
        resources, key=lambda resource: (resource.kind, resource.namespace, resource.name)
    )


class _Dumper(yaml.SafeDumper):
    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        """PyYAML's analysis, except that a tab does not forbid a literal block: the chart's
        scripts and model lists hold tabs, and as one quoted line a one-word change in them
        was a diff line of 15,000 characters. A tab is content in a literal block (YAML 1.1
        and 1.2 allow it after the indentation), so the block reads back as the same text."""
        analysis = super().analyze_scalar(scalar)
        if "\t" in scalar and not analysis.allow_block:
            analysis.allow_block = super().analyze_scalar(scalar.replace("\t", "x")).allow_block
        return analysis


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def canonical_yaml(document: Mapping[str, Any]) -> str:
    text: str = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    return text


def render_all(
    helm: Path, chart: Path, services: Sequence[ServiceInputs], label: str
) -> dict[str, list[Resource]]:
    """Every service rendered, by key; a few helm processes at once, the results in input order.
    label names the side in a RenderError."""

    def render(inputs: ServiceInputs) -> list[Resource]:
        try:
            return render_service(helm, chart, inputs)
        except RenderError as error:
            raise RenderError(f"{label}: helm cannot render {inputs.key}: {error}") from error

    with ThreadPoolExecutor(max_workers=min(RENDER_WORKERS, os.cpu_count() or 1)) as pool:
        rendered = list(pool.map(render, services))
    return {inputs.key: resources for inputs, resources in zip(services, rendered, strict=True)}
