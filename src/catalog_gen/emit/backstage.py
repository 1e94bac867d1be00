"""Backstage files: a Component per service, the root Location, and the scaffolder Template.

- ``generated/<env>/<ns>/<service>/catalog-info.yaml``: a ``Component`` named like the Argo CD
  Application (``<env>-<namespace>-<service>``, unique across environments and namespaces, at most
  63 characters), titled ``<service> (<env>/<namespace>)``, with the Kubernetes, Argo CD and
  source annotations the Backstage plugins read.
- ``catalog-info.yaml`` at the repository root: a ``Location`` whose glob target finds every
  generated Component, plus the Template.
- ``backstage/templates/ollama-inference-load/template.yaml`` and its skeleton: the form is the
  leaf JSON schema (titles, descriptions, enums, patterns, defaults), the skeleton writes the
  leaf from the same fields, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from catalog_gen.check.rules import RESOURCE_PRESETS
from catalog_gen.emit.argocd import (
    GENERATED_DIR,
    GENERATED_MARKER,
    SYSTEM_NAMESPACE_PREFIX,
    application_name,
    destination_namespace,
    reserved_namespaces,
    yaml_bytes,
)
from catalog_gen.load.document import Document
from catalog_gen.models import Environment
from catalog_gen.plan.merge import ENVIRONMENT_LABEL, LABEL_PREFIX
from catalog_gen.plan.pipeline import CatalogPlan
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report, Severity

COMPONENT_API_VERSION = "backstage.io/v1alpha1"
TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
TEMPLATE_NAME = "ollama-inference-load"
TEMPLATE_DIR = f"backstage/templates/{TEMPLATE_NAME}"
TEMPLATE_PATH = f"{TEMPLATE_DIR}/template.yaml"
# A Location of its own for the Template: Backstage checks every entity one Location's targets
# emit against catalog.rules and drops them all at the first kind not allowed, and neither its
# default rules nor create-app's allow Template, so beside the Components it would lose them all.
TEMPLATE_LOCATION_FILE = "location.yaml"
TEMPLATE_LOCATION_PATH = f"{TEMPLATE_DIR}/{TEMPLATE_LOCATION_FILE}"
SKELETON_LEAF_PATH = (
    "skeleton/catalog/${{ values.environment }}/${{ values.namespace }}/"
    "${{ values.serviceName }}.yaml"
)
ROOT_LOCATION_PATH = "catalog-info.yaml"
COMPONENT_FILE = "catalog-info.yaml"
# Backstage's own name rule (FieldFormatEntityPolicy): [a-zA-Z0-9] runs joined by one of -_.
ENTITY_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
ENTITY_NAME_MAX = 63

# The form: pages of leaf keys, in order. Keys not offered here (models, derivedModels, cache,
# ollama, container, gateway, autoscaling, chartValues) are edited in the leaf after the pull
# request.
FORM_PAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Service",
        "Who owns the service and where it runs.",
        ("serviceName", "environment", "namespace", "serviceCatalog", "owner", "description"),
    ),
    (
        "Model and size",
        "The model to serve and the resources it gets.",
        ("model", "resourcesPreset", "gpu"),
    ),
    ("Exposure", "How clients reach the service.", ("ingress",)),
)
# The form asks for these even where the leaf schema does not: a Backstage Component needs an
# owner, and a leaf needs a model (the schema's oneOf model/models; the form offers model).
FORM_REQUIRED = ("owner", "model")
_UI: dict[str, dict[str, Any]] = {
    "serviceName": {"ui:autofocus": True},
    "owner": {
        "ui:field": "OwnerPicker",
        "ui:options": {"catalogFilter": {"kind": ["Group", "User"]}},
    },
    # Nunjucks' dump (JSON.stringify) writes DEL, the C1 controls, U+2028, U+2029, U+FFFE and
    # U+FFFF raw, which the leaf's YAML refuses in a file (YAML 1.1 and 1.2 read NEL, LS and
    # PS apart: load/document.py), and a lone surrogate as an escape YAML refuses: the form
    # refuses them (tests/gitops/test_new_form.py derives the set from catalog-gen's loader).
    "description": {
        "ui:widget": "textarea",
        "ui:options": {"rows": 3},
        "not": {"pattern": "[\\u007f-\\u009f\\u2028\\u2029\\ud800-\\udfff\\ufffe\\uffff]"},
        "errorMessage": {
            "not": "no DEL, C1 control, line or paragraph separator, surrogate or noncharacter "
            "U+FFFE/U+FFFF"
        },
    },
    # What catalog-gen refuses that the leaf schema lets through, refused in the form already:
    # the namespaces of Kubernetes itself (emit/argocd.py) and presets that do not exist (each
    # environment's own namespaces, taken services, names and hosts: the page rules below).
    "namespace": {
        "not": {"pattern": f"^{SYSTEM_NAMESPACE_PREFIX}"},
        "errorMessage": {
            "not": f"{SYSTEM_NAMESPACE_PREFIX}* namespaces belong to Kubernetes itself"
        },
    },
    "resourcesPreset": {"enum": list(RESOURCE_PRESETS)},
}


def is_valid_entity_name(name: str) -> bool:
    return len(name) <= ENTITY_NAME_MAX and ENTITY_NAME.match(name) is not None


# --- repository links --------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """A git repository as Backstage needs it: web URL, host, owner/name, revision."""

    host: str
    owner: str
    name: str
    revision: str

    @property
    def web_url(self) -> str:
        return f"https://{self.host}/{self.owner}/{self.name}"

    def tree_url(self, path: str) -> str:
        return f"{self.web_url}/tree/{self.revision}/{path}"

    def blob_url(self, path: str) -> str:
        return f"{self.web_url}/blob/{self.revision}/{path}"

    def edit_url(self, path: str) -> str:
        return f"{self.web_url}/edit/{self.revision}/{path}"

    @property
    def publish_repo_url(self) -> str:
        """The repoUrl format of the publish:github actions: host?owner=..&repo=.."""
        return f"{self.host}?owner={self.owner}&repo={self.name}"


_REPOSITORY_URL = re.compile(
    r"^(?:https://|ssh://git@|git@)(?P<host>[^/:]+(?::[0-9]+)?)[/:]"
    r"(?P<owner>[^/]+(?:/[^/]+)*?)/(?P<name>[^/]+?)(?:\.git)?/?$"
)


def parse_repository(url: str, revision: str) -> Repository | None:
    """https://host/owner/repo(.git), git@host:owner/repo.git or ssh://git@host/owner/repo."""
    match = _REPOSITORY_URL.match(url)
    if match is None:
        return None
    host = match.group("host")
    if url.startswith("ssh://") and ":" in host:
        host = host.split(":", 1)[0]  # an ssh port says nothing about the web address
    return Repository(host, match.group("owner"), match.group("name"), revision)


# --- Component per service ---------------------------------------------------------------------


@dataclass(frozen=True)
class BackstageService:
    """What the Component needs to know about one service (a projection of its plan)."""

    environment: str
    namespace: str  # the leaf's namespace (its directory)
    destination_namespace: str  # the Kubernetes namespace it runs in
    service: str
    leaf_path: str
    system: str
    owner: str | None
    description: str | None
    lifecycle: str
    kubernetes_id: str  # the backstage.io/kubernetes-id label value the chart puts on resources
    # The Kubernetes tab's label selector: the kubernetes-id and, where the resources carry it,
    # the environment label, so a service several environments deploy shows each its own pods.
    label_selector: str
    repository: Repository | None  # None: an environment without argocd (no links, no app)

    @property
    def entity_name(self) -> str:
        return application_name(self.environment, self.namespace, self.service)

    @property
    def component_path(self) -> str:
        return (
            f"{GENERATED_DIR}/{self.environment}/{self.namespace}/{self.service}/{COMPONENT_FILE}"
        )


def environment_repository(environment: Environment) -> Repository | None:
    if environment.argocd is None:
        return None
    return parse_repository(environment.argocd.repo_url, environment.argocd.target_revision)


def backstage_service(plan: ServicePlan) -> BackstageService:
    backstage_values = plan.chart_values.get("backstage")
    kubernetes_id = plan.service_name
    if isinstance(backstage_values, Mapping) and isinstance(
        backstage_values.get("kubernetesId"), str
    ):
        kubernetes_id = backstage_values["kubernetesId"]
    selector = f"backstage.io/kubernetes-id={kubernetes_id}"
    if not kubernetes_id:  # the chart then puts no such label: select by the release instead
        kubernetes_id = plan.service_name
        selector = f"app.kubernetes.io/instance={plan.service_name}"
    labels = plan.chart_values.get("commonLabels")
    environment_label = labels.get(ENVIRONMENT_LABEL) if isinstance(labels, Mapping) else None
    if isinstance(environment_label, str) and environment_label:
        selector += f",{ENVIRONMENT_LABEL}={environment_label}"
    return BackstageService(
        environment=plan.environment_name,
        namespace=plan.namespace,
        destination_namespace=destination_namespace(plan.environment, plan.namespace),
        service=plan.service_name,
        leaf_path=plan.leaf_path,
        system=plan.service_catalog,
        owner=plan.owner,
        description=plan.description,
        lifecycle=plan.environment.lifecycle,
        kubernetes_id=kubernetes_id,
        label_selector=selector,
        repository=environment_repository(plan.environment),
    )


def component_problem(owner: str | None, entity_name: str) -> str | None:
    """Why Backstage cannot show a service (its owner, as the plan resolved it, and its
    BackstageService.entity_name), if it cannot: the one place that says what a Component
    needs. The service still deploys; the CLI warns (check_catalog)."""
    if owner is None:
        return (
            "no owner: the service is not published to Backstage (a Component needs an owner); "
            "set owner, e.g. group:ml-platform, in the leaf or for every service of the "
            "environment in its environment file"
        )
    if not is_valid_entity_name(entity_name):
        return f"Backstage cannot name the service {entity_name!r}"
    return None


def component(service: BackstageService) -> dict[str, Any]:
    annotations = {
        "backstage.io/kubernetes-id": service.kubernetes_id,
        "backstage.io/kubernetes-namespace": service.destination_namespace,
        # Backstage's Kubernetes backend takes this over kubernetes-id (KubernetesFanOutHandler:
        # the selector, else kubernetes-id=<id>), in every cluster it knows.
        "backstage.io/kubernetes-label-selector": service.label_selector,
    }
    if service.repository is not None:
        leaf_directory = service.leaf_path.rsplit("/", 1)[0] + "/"
        annotations["argocd/app-name"] = service.entity_name
        annotations["backstage.io/source-location"] = "url:" + service.repository.tree_url(
            leaf_directory
        )
        annotations["backstage.io/edit-url"] = service.repository.edit_url(service.leaf_path)
    metadata: dict[str, Any] = {
        "name": service.entity_name,
        "title": f"{service.service} ({service.environment}/{service.namespace})",
    }
    if service.description:
        metadata["description"] = service.description
    metadata["labels"] = {
        ENVIRONMENT_LABEL: service.environment,
        f"{LABEL_PREFIX}/namespace": service.namespace,
        f"{LABEL_PREFIX}/service": service.service,
    }
    metadata["annotations"] = annotations
    metadata["tags"] = ["ollama", "llm-inference"]
    assert service.owner is not None
    return {
        "apiVersion": COMPONENT_API_VERSION,
        "kind": "Component",
        "metadata": metadata,
        "spec": {
            "type": "service",
            "lifecycle": service.lifecycle,
            "owner": service.owner,
            "system": service.system,
        },
    }


def emit_catalog_info(plan: ServicePlan) -> dict[str, bytes]:
    """Service emitter: catalog-info.yaml in the service's folder (none without an owner)."""
    service = backstage_service(plan)
    if component_problem(service.owner, service.entity_name) is not None:
        return {}
    return {COMPONENT_FILE: yaml_bytes([component(service)], service.leaf_path)}


def check_catalog(catalog: CatalogPlan, report: Report) -> None:
    """A service Backstage cannot show is a warning at its leaf (it still deploys): at the
    leaf's owner, where it names none (placed as Document.add places a missing key), else at its
    serviceName. Reads each service's LeafFacts, never its plan (an incremental render loads
    none for this)."""
    for service in catalog.services:
        entity_name = application_name(
            service.environment_name, service.namespace, service.service_name
        )
        problem = component_problem(service.owner, entity_name)
        if problem is not None:
            where = ("owner",) if service.owner is None else ("serviceName",)
            service.add(report, where, problem, severity=Severity.WARNING)


def root_location() -> dict[str, Any]:
    return {
        "apiVersion": COMPONENT_API_VERSION,
        "kind": "Location",
        "metadata": {
            "name": "ollama-inference-load",
            "description": "Ollama inference services rendered by catalog-gen, and the "
            "template that adds one",
        },
        # No spec.type: targets resolve relative to wherever this file was registered from (a
        # url in production, a file in a local Backstage). Globs need a SCM integration that can
        # search (GitHub, GitLab, Bitbucket, Azure DevOps, Gerrit) or the file reader. The
        # Template comes through a Location of its own (TEMPLATE_LOCATION_FILE).
        "spec": {
            "targets": [
                f"./{GENERATED_DIR}/*/*/*/{COMPONENT_FILE}",
                f"./{TEMPLATE_LOCATION_PATH}",
            ]
        },
    }


def template_location() -> dict[str, Any]:
    """The Location of the scaffolder Template alone (see TEMPLATE_LOCATION_FILE)."""
    return {
        "apiVersion": COMPONENT_API_VERSION,
        "kind": "Location",
        "metadata": {
            "name": f"{TEMPLATE_NAME}-template",
            "description": "The template that adds an Ollama inference service; where "
            "catalog.rules do not allow Template, this Location alone is refused",
        },
        "spec": {"targets": ["./template.yaml"]},
    }


def root_location_bytes() -> bytes:
    """The repository's catalog-info.yaml (written by render; the same for every catalog)."""
    return yaml_bytes([root_location()], "src/catalog_gen/emit/backstage.py")


# --- the scaffolder Template ------------------------------------------------------------------


class TemplateSchemaError(ValueError):
    """The leaf schema lacks what the form needs (a key of FORM_PAGES, a $ref target)."""


def _inline(node: Any, definitions: Mapping[str, Any]) -> Any:
    """The schema with every local $ref replaced by its target: each form page stands alone."""
    if isinstance(node, dict):
        if "$ref" in node:
            reference = node["$ref"]
            prefix = "#/$defs/"
            if not isinstance(reference, str) or not reference.startswith(prefix):
                raise TemplateSchemaError(f"unsupported $ref {reference!r}")
            target = definitions.get(reference[len(prefix) :])
            if target is None:
                raise TemplateSchemaError(f"$ref {reference!r} has no target")
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def _humanize(key: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    return words[:1].upper() + words[1:]


def _form_field(
    key: str, schema: Mapping[str, Any], own_title: object, environments: Sequence[str]
) -> dict[str, Any]:
    # Key order: what a reviewer reads first; the titles of $defs are class names, not labels.
    field: dict[str, Any] = {"title": own_title if isinstance(own_title, str) else _humanize(key)}
    field.update({name: value for name, value in schema.items() if name != "title"})
    if key == "environment":
        field["enum"] = list(environments)
    if field.get("type") == "object":
        # The form creates every object, even one left empty; asking for its required keys then
        # would force them: the skeleton leaves out an object with no keys set. A partly set one
        # (a GPU type without a count) is refused by dependencies instead: any other key needs
        # the required ones.
        # Nor their defaults: the form fills a default in, so an untouched page would send an
        # object holding only it (ingress: {administration: false}) and lack its required key.
        required = list(field.pop("required", None) or ())
        field["properties"] = {
            name: {
                "title": sub.get("title", _humanize(name)),
                **{k: v for k, v in sub.items() if k != "default"},
            }
            for name, sub in field.get("properties", {}).items()
        }
        field.update(_required_with_any(field["properties"], required))
    field.update(_UI.get(key, {}))
    return field


def _required_with_any(properties: Mapping[str, Any], required: Sequence[str]) -> dict[str, Any]:
    """Draft-07 dependencies: setting any key of an object needs its required keys, with the
    message the form shows (ajv-errors)."""
    others = [name for name in properties if name not in required]
    if not required or not others:
        return {}
    needed = " and ".join(properties[name]["title"] for name in required)
    return {
        "dependencies": {name: list(required) for name in others},
        "errorMessage": {"dependencies": f"set {needed} too: the other fields here need it"},
    }


TakenHosts = Mapping[str, Sequence[tuple[str, str]]]  # environment: (host, "namespace/service")


def taken_hosts(plans: Iterable[ServicePlan]) -> dict[str, list[tuple[str, str]]]:
    """Per environment, the hosts its services route (the leaf's, or the derived
    <serviceName>.<baseDomain>) and who routes each: what the unique-host rule compares."""
    taken: dict[str, dict[str, str]] = {}
    for plan in sorted(plans, key=lambda plan: plan.leaf_path):
        hosts = taken.setdefault(plan.environment_name, {})
        for host, _ in plan.exposure.host_sources:
            hosts.setdefault(host, f"{plan.namespace}/{plan.service_name}")
    return {name: sorted(hosts.items()) for name, hosts in sorted(taken.items()) if hosts}


TakenServices = Mapping[str, Sequence[tuple[str, str]]]  # environment: (namespace, service)
# environment: {namespace as a leaf names it: the problem catalog-gen reports there}
ReservedNamespaces = Mapping[str, Mapping[str, str]]


def taken_services(plans: Iterable[ServicePlan]) -> dict[str, list[tuple[str, str]]]:
    """Per environment, the (namespace, service) of every leaf it has: the skeleton would write
    over such a leaf (`catalog-gen new` refuses to)."""
    taken: dict[str, set[tuple[str, str]]] = {}
    for plan in plans:
        taken.setdefault(plan.environment_name, set()).add((plan.namespace, plan.service_name))
    return {name: sorted(services) for name, services in sorted(taken.items())}


def _taken_service_rules(taken: TakenServices) -> list[dict[str, Any]]:
    """JSON Schema that refuses a service the chosen environment and namespace have already (if
    both match, the name must differ), with the message Backstage's form shows."""
    rules: list[dict[str, Any]] = []
    for environment, services in sorted(taken.items()):
        for namespace, service in services:
            rules.append(
                {
                    "if": {
                        "properties": {
                            "environment": {"const": environment},
                            "namespace": {"const": namespace},
                        },
                        "required": ["environment", "namespace"],
                    },
                    "then": {
                        "properties": {
                            "serviceName": {
                                "not": {"const": service},
                                "errorMessage": f"{namespace}/{service} already exists in "
                                f"{environment}: edit its leaf instead (the form never replaces "
                                "one)",
                            }
                        }
                    },
                }
            )
    return rules


def _joined_name_rules(taken: TakenServices) -> list[dict[str, Any]]:
    """JSON Schema that refuses another namespace and service of the chosen environment whose
    Argo CD Application and Backstage Component name, `<env>-<namespace>-<service>`, is a taken
    service's (emit/argocd.py _check_unique_names): each other split of its `<namespace>-<service>`
    at a '-'."""
    rules: list[dict[str, Any]] = []
    for environment, services in sorted(taken.items()):
        for namespace, service in services:
            joined = f"{namespace}-{service}"
            for at in (index for index, char in enumerate(joined) if char == "-"):
                other, rest = joined[:at], joined[at + 1 :]
                if other == namespace or not other or not rest:
                    continue
                rules.append(
                    _refusal(
                        {"environment": environment, "namespace": other},
                        "serviceName",
                        rest,
                        f"its Argo CD Application and Backstage Component would be named "
                        f"{environment}-{joined}, like those of {namespace}/{service} in "
                        f"{environment}: choose another name",
                    )
                )
    return rules


def _reserved_namespace_rules(reserved: ReservedNamespaces) -> list[dict[str, Any]]:
    """JSON Schema that refuses the namespaces the chosen environment keeps from its services
    (emit/argocd.py reserved_namespaces), with catalog-gen's words."""
    return [
        _refusal({"environment": environment}, "namespace", namespace, problem)
        for environment, namespaces in sorted(reserved.items())
        for namespace, problem in sorted(namespaces.items())
    ]


def _refusal(when: Mapping[str, str], key: str, value: str, message: str) -> dict[str, Any]:
    """if every field of when holds its value, key must not be value (message: why)."""
    return {
        "if": {
            "properties": {name: {"const": wanted} for name, wanted in when.items()},
            "required": list(when),
        },
        "then": {"properties": {key: {"not": {"const": value}, "errorMessage": message}}},
    }


def _taken_host_rules(taken: TakenHosts) -> list[dict[str, Any]]:
    """JSON Schema that refuses a host already routed in the chosen environment: plain if/then
    and not/const, which react-jsonschema-form's ajv8 validator evaluates in Backstage's form,
    with ajv-errors messages (Backstage's form enables ajv-errors) naming the service."""
    rules: list[dict[str, Any]] = []
    for environment, hosts in sorted(taken.items()):
        refusals = [
            {
                "not": {"const": host},
                "errorMessage": f"{host} is already routed by {owner} in {environment}; "
                "hosts are unique per environment",
            }
            for host, owner in hosts
        ]
        rules.append(
            {
                "if": {
                    "properties": {"environment": {"const": environment}},
                    "required": ["environment"],
                },
                "then": {"properties": {"ingress": {"properties": {"host": {"allOf": refusals}}}}},
            }
        )
    return rules


def form_parameters(
    leaf_schema: Mapping[str, Any],
    environments: Sequence[str],
    taken: TakenHosts | None = None,
    services: TakenServices | None = None,
    reserved: ReservedNamespaces | None = None,
) -> list[dict[str, Any]]:
    """The Template's parameter pages, from the leaf schema (and the hosts and services the
    catalog has already, and the namespaces each environment keeps)."""
    definitions = leaf_schema.get("$defs", {})
    properties = _inline(leaf_schema.get("properties", {}), definitions)
    required = set(leaf_schema.get("required", [])) | set(FORM_REQUIRED)
    pages: list[dict[str, Any]] = []
    for title, description, keys in FORM_PAGES:
        missing = [key for key in keys if key not in properties]
        if missing:
            raise TemplateSchemaError(f"the leaf schema has no {', '.join(missing)}")
        pages.append(
            {
                "title": title,
                "description": description,
                "required": [key for key in keys if key in required],
                "properties": {
                    key: _form_field(
                        key,
                        properties[key],
                        leaf_schema["properties"][key].get("title"),
                        environments,
                    )
                    for key in keys
                },
            }
        )
        if "ingress" in keys and taken:
            pages[-1]["allOf"] = _taken_host_rules(taken)
        if "serviceName" in keys:
            rules = _taken_service_rules(services or {}) + _joined_name_rules(services or {})
            rules += _reserved_namespace_rules(reserved or {})
            if rules:
                pages[-1]["allOf"] = rules
    return pages


def _form_keys() -> list[str]:
    return [key for _, _, keys in FORM_PAGES for key in keys]


def skeleton_text(leaf_schema: Mapping[str, Any]) -> str:
    """The fetch:template skeleton writing the leaf: one YAML key per form field, JSON-quoted.

    Nunjucks's ``dump`` is JSON.stringify, and JSON is YAML: whatever a user types (quotes, '#',
    ': ', newlines) reads back as the same string. Optional keys are written only when set.
    """
    definitions = leaf_schema.get("$defs", {})
    properties = _inline(leaf_schema.get("properties", {}), definitions)
    required = set(leaf_schema.get("required", [])) | set(FORM_REQUIRED)
    workload = properties.get("workloadType", {})
    workload_type = workload.get("const", (workload.get("enum") or [None])[0])
    if not isinstance(workload_type, str):
        raise TemplateSchemaError("the leaf schema has no fixed workloadType")
    lines = [
        f"{{# {GENERATED_MARKER} (catalog-gen backstage, from the leaf schema) -#}}",
        "# yaml-language-server: $schema=../../../schemas/catalog-leaf.schema.json",
        f"# Ollama inference service, created with the Backstage template {TEMPLATE_NAME}.",
        "# Edit freely: CI validates this file with `catalog-gen validate`.",
        f"workloadType: {workload_type}",
    ]
    text = "\n".join(lines)
    for key in _form_keys():
        schema = properties[key]
        if schema.get("type") == "object":
            text += _object_block(key, schema)
        elif key in required:
            text += f"\n{key}: ${{{{ values.{key} | dump }}}}"
        else:
            text += (
                f"\n{{%- if values.{key} is defined %}}"
                f"\n{key}: ${{{{ values.{key} | dump }}}}"
                "\n{%- endif %}"
            )
    return text + "\n"


def _object_block(key: str, schema: Mapping[str, Any]) -> str:
    names = list(schema.get("properties", {}))
    if not names:
        raise TemplateSchemaError(f"{key}: an object without properties cannot be a form field")
    any_set = " or ".join(f"values.{key}.{name} is defined" for name in names)
    text = f"\n{{%- if {any_set} %}}\n{key}:"
    for name in names:
        text += (
            f"\n{{%- if values.{key}.{name} is defined %}}"
            f"\n  {name}: ${{{{ values.{key}.{name} | dump }}}}"
            "\n{%- endif %}"
        )
    return text + "\n{%- endif %}"


def template_entity(
    leaf_schema: Mapping[str, Any],
    environments: Sequence[str],
    repository: Repository,
    target_branch: str | None,
    *,
    taken: TakenHosts | None = None,
    services: TakenServices | None = None,
    reserved: ReservedNamespaces | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": TEMPLATE_API_VERSION,
        "kind": "Template",
        "metadata": {
            "name": TEMPLATE_NAME,
            "title": "Ollama inference service",
            "description": (
                "Add an Ollama inference service to the catalog: opens a pull request with "
                "its catalog leaf; CI renders it and Argo CD deploys it."
            ),
            "tags": ["ollama", "llm-inference", "gitops"],
            "annotations": {
                "backstage.io/source-location": "url:" + repository.tree_url(TEMPLATE_DIR + "/")
            },
        },
        "spec": {
            "type": "service",
            "parameters": form_parameters(leaf_schema, environments, taken, services, reserved),
            "steps": _steps(repository, target_branch),
            "output": {
                "links": [
                    {"title": "Pull request", "url": "${{ steps.publish.output.remoteUrl }}"},
                    {
                        "title": "Open in catalog",
                        "icon": "catalog",
                        "entityRef": "${{ steps.register.output.entityRef }}",
                    },
                ]
            },
        },
    }


def _steps(repository: Repository, target_branch: str | None) -> list[dict[str, Any]]:
    """The template's steps: write the leaf, open the pull request, register the component."""
    leaf = "catalog/${{ parameters.environment }}/${{ parameters.namespace }}/"
    leaf += "${{ parameters.serviceName }}.yaml"
    generated = (
        f"{GENERATED_DIR}/${{{{ parameters.environment }}}}/${{{{ parameters.namespace }}}}/"
        f"${{{{ parameters.serviceName }}}}/{COMPONENT_FILE}"
    )
    publish_input: dict[str, Any] = {
        "repoUrl": repository.publish_repo_url,
        "branchName": "catalog/${{ parameters.environment }}/${{ parameters.namespace }}/"
        "${{ parameters.serviceName }}",
        "title": "catalog: add ${{ parameters.serviceName }} to "
        "${{ parameters.environment }}/${{ parameters.namespace }}",
        "description": (
            "Adds the Ollama inference service `${{ parameters.serviceName }}`:\n"
            f"`{leaf}`\n"
            f"(created with the Backstage template `{TEMPLATE_NAME}`).\n\n"
            "CI validates the leaf and renders `generated/`; once merged, Argo CD syncs it.\n"
        ),
    }
    if target_branch is not None:
        publish_input["targetBranchName"] = target_branch
    return [
        {
            "id": "fetch",
            "name": "Write the catalog leaf",
            "action": "fetch:template",
            "input": {
                "url": "./skeleton",
                "values": {key: f"${{{{ parameters.{key} }}}}" for key in _form_keys()},
            },
        },
        {
            "id": "publish",
            "name": "Open a pull request",
            "action": "publish:github:pull-request",
            "input": publish_input,
        },
        {
            "id": "register",
            "name": "Register the component",
            "action": "catalog:register",
            # optional: the Component file exists once CI has rendered the merged leaf.
            "input": {"catalogInfoUrl": repository.blob_url(generated), "optional": True},
        },
    ]


def template_files(
    leaf_schema: Mapping[str, Any],
    environments: Sequence[str],
    repository: Repository,
    target_branch: str | None,
    *,
    taken: TakenHosts | None = None,
    services: TakenServices | None = None,
    reserved: ReservedNamespaces | None = None,
) -> dict[PurePosixPath, bytes]:
    """The files of backstage/templates/ollama-inference-load/ (paths relative to it)."""
    entity = template_entity(
        leaf_schema,
        environments,
        repository,
        target_branch,
        taken=taken,
        services=services,
        reserved=reserved,
    )
    return {
        PurePosixPath("template.yaml"): yaml_bytes([entity], "schemas/catalog-leaf.schema.json"),
        PurePosixPath(TEMPLATE_LOCATION_FILE): yaml_bytes(
            [template_location()], "src/catalog_gen/emit/backstage.py"
        ),
        PurePosixPath(SKELETON_LEAF_PATH): skeleton_text(leaf_schema).encode(),
    }


def template_tree(
    leaf_schema: Mapping[str, Any],
    environments: Mapping[str, Environment],
    environment_documents: Mapping[str, Document],
    report: Report,
    plans: Sequence[ServicePlan],
) -> dict[PurePosixPath, bytes] | None:
    """What `catalog-gen backstage` writes, or None with the reasons in the report.

    The form offers every environment; pull requests go to the one repository the environments
    deploy from (their argocd.repoURL), to their common targetRevision when it is a branch. The
    form refuses the hosts the catalog's services (plans) already route in each environment, and
    the services each environment and namespace already have.
    """
    repositories: list[tuple[str, Repository]] = []
    for name, environment in sorted(environments.items()):
        if environment.argocd is None:
            continue
        repository = environment_repository(environment)
        document = environment_documents.get(name)
        if repository is None:
            if document is not None:
                document.add(
                    report,
                    ("argocd", "repoURL"),
                    "the Backstage template opens pull requests on this repository, but it is "
                    "not of the form https://<host>/<owner>/<repo>(.git) or "
                    "git@<host>:<owner>/<repo>",
                )
            continue
        repositories.append((name, repository))
    repository, branch = shared_repository(repositories)
    if repository is None:
        message = "the Backstage template needs one repository to open pull requests on: " + (
            "the environments name several argocd.repoURL values"
            if repositories
            else "no environment has an argocd.repoURL"
        )
        report.add("catalog/environments", 0, 0, (), message)
        return None
    try:
        return template_files(
            leaf_schema,
            sorted(environments),
            repository,
            branch,
            taken=taken_hosts(plans),
            services=taken_services(plans),
            reserved={name: reserved_namespaces(found) for name, found in environments.items()},
        )
    except TemplateSchemaError as error:
        report.add("schemas/catalog-leaf.schema.json", 0, 0, (), str(error))
        return None


# A commit's name, whole or cut, in either case: what Argo CD reads as a commit SHA (a revision of
# 7 hex digits or more), SHA-256 object names included.
_COMMIT = re.compile(r"[0-9A-Fa-f]{7,64}")


def shared_repository(
    repositories: Iterable[tuple[str, Repository]],
) -> tuple[Repository | None, str | None]:
    """The one repository every environment deploys from, and the branch its PRs target.

    The branch is the environments' common targetRevision, or None (the default branch) when
    they differ, follow HEAD, or name a commit (a pull request cannot target one, and a new
    service's catalog-info.yaml never appears at it). A tag is not told from a branch here.
    """
    listed = list(repositories)
    found = {(repo.host, repo.owner, repo.name) for _, repo in listed}
    if len(found) != 1:
        return None, None
    revisions = {repo.revision for _, repo in listed}
    branch = revisions.pop() if len(revisions) == 1 else None
    first = listed[0][1]
    if branch in (None, "HEAD") or _COMMIT.fullmatch(branch or ""):
        return Repository(first.host, first.owner, first.name, "HEAD"), None
    return Repository(first.host, first.owner, first.name, branch), branch
