"""Render Helm charts and validate the manifests strictly, the way an API server would.

Used by `make run` (tools/render_chart.py) and by every test folder (through
tests/support/kube.py)::

    from tools.kube_validate import helm_template, validate_manifests

    documents = helm_template(helm, chart, [values_file], api_versions=["cert-manager.io/v1"])
    errors = validate_manifests(documents, crd_dir=shared_dir / "crds")
    assert errors == []

``helm_template(helm, chart, values_files=(), *, release, namespace, api_versions, kube_version,
set_values, extra_args) -> list[dict]``
    Runs ``helm template`` with the given binary and returns the rendered documents (``helm
    test`` hooks included). YAML is loaded safely and duplicate keys are rejected. A failed render
    raises :class:`HelmError`, whose ``stderr`` holds helm's message (``fail`` guardrails, schema
    errors). ``helm_template_text`` returns the raw output instead.

``validate_manifests(documents, kube_versions=KUBE_VERSIONS, crd_dir=None) -> list[str]``
    Returns one error string per problem, empty when everything is valid:

    * built-in kinds against kubernetes-validate's **strict** schemas (unknown fields rejected)
      for every Kubernetes version in ``kube_versions``;
    * custom resources against the ``openAPIV3Schema`` of the matching CRD (group, version, kind)
      found in any YAML file under ``crd_dir``, with every object closed (``additionalProperties:
      false``) unless the schema says ``x-kubernetes-preserve-unknown-fields``, ``nullable``
      honoured, and ``metadata`` validated with the Kubernetes ObjectMeta schema instead of the
      CRD's partial one. CEL rules (``x-kubernetes-validations``) are not evaluated here:
      ``apiserver_errors`` with ``crd_dir`` runs them, with the API server's own code;
    * a kind that neither knows is an error: nothing passes unvalidated.

Schemas are loaded once per process (``functools.cache``) and validated in-process with the
library's bundled JSON schemas, so validating many documents for six Kubernetes versions takes
seconds.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from tools.bootstrap_system import APISERVER_VALIDATE

KUBE_VERSIONS: tuple[str, ...] = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

Document = dict[str, Any]


class HelmError(RuntimeError):
    """helm exited non-zero; ``stderr`` carries its message."""

    def __init__(self, command: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(command)} exited {returncode}:\n{stderr}")
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (a template bug a cluster would hide)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


# A plain `=` or `<<` value resolves to YAML 1.1's "value" or "merge" tag, which SafeLoader
# cannot construct there; helm's output holds them unquoted and Kubernetes reads the strings. (A
# `<<` key is still a merge: construct_mapping flattens those before constructing values.)
def _construct_text(loader: _UniqueKeyLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:value", _construct_text)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:merge", _construct_text)


def load_documents(text: str) -> list[Document]:
    """Parse a multi-document YAML stream; empty documents are dropped."""
    documents: list[Document] = []
    for document in yaml.load_all(text, Loader=_UniqueKeyLoader):  # a SafeLoader subclass
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"rendered document is not a mapping: {document!r}")
        documents.append(document)
    return documents


def helm_template_text(
    helm: Path,
    chart: Path,
    values_files: Iterable[Path] = (),
    *,
    release: str = "release",
    namespace: str = "default",
    api_versions: Iterable[str] = (),
    kube_version: str | None = None,
    set_values: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> str:
    """Run ``helm template`` and return its stdout; raise HelmError on failure."""
    command = [str(helm), "template", release, str(chart), "--namespace", namespace]
    for values_file in values_files:
        command += ["--values", str(values_file)]
    for api_version in api_versions:
        command += ["--api-versions", api_version]
    if kube_version:
        command += ["--kube-version", kube_version]
    for key, value in (set_values or {}).items():
        command += ["--set", f"{key}={value}"]
    command += list(extra_args)
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise HelmError(command, result.returncode, result.stderr)
    return result.stdout


def helm_template(
    helm: Path,
    chart: Path,
    values_files: Iterable[Path] = (),
    *,
    release: str = "release",
    namespace: str = "default",
    api_versions: Iterable[str] = (),
    kube_version: str | None = None,
    set_values: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> list[Document]:
    """``helm template`` parsed into documents (see the module docstring)."""
    return load_documents(
        helm_template_text(
            helm,
            chart,
            values_files,
            release=release,
            namespace=namespace,
            api_versions=api_versions,
            kube_version=kube_version,
            set_values=set_values,
            extra_args=extra_args,
        )
    )


def select(documents: Iterable[Document], kind: str, name: str | None = None) -> list[Document]:
    """Documents of one kind (and name, when given)."""
    return [
        document
        for document in documents
        if document.get("kind") == kind
        and (name is None or document.get("metadata", {}).get("name") == name)
    ]


# --- built-in kinds: kubernetes-validate's strict schemas --------------------------------------


def _schema_dir(kube_version: str) -> Path:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    path = Path(str(root)) / f"v{kube_version}.0-local-strict"
    if not path.is_dir():
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {kube_version}")
    return path


@functools.cache
def _registry(kube_version: str) -> Registry[Any]:
    definitions = json.loads((_schema_dir(kube_version) / "_definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resource(
        _DEFINITIONS_URI, Resource.from_contents(definitions)
    )
    return registry


def _schema_file_name(api_version: str, kind: str) -> str:
    # Same naming as kubernetes-validate: apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1.
    group, _, version = api_version.rpartition("/")
    prefix = f"{group.split('.')[0]}-{version}" if group else version
    return f"{kind.lower()}-{prefix}.json"


@functools.cache
def _builtin_validator(
    kube_version: str, api_version: str, kind: str
) -> jsonschema.Validator | None:
    path = _schema_dir(kube_version) / _schema_file_name(api_version, kind)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    declared = schema.get("x-kubernetes-group-version-kind", [])
    group, _, version = api_version.rpartition("/")
    if not any(
        gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind
        for gvk in declared
    ):
        return None
    return jsonschema.Draft202012Validator(schema, registry=_registry(kube_version))


@functools.cache
def _object_meta_validator(kube_version: str) -> jsonschema.Validator:
    schema = {"$ref": f"{_DEFINITIONS_URI}#/$defs/{_OBJECT_META}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(kube_version))


# --- custom resources: CRD openAPIV3Schema, closed --------------------------------------------


def _close(schema: Any) -> Any:
    """Make a structural OpenAPI schema strict: objects close unless they preserve unknowns."""
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed: dict[str, Any] = {}
    for key, value in schema.items():
        if key in {"properties", "patternProperties", "definitions"} and isinstance(value, dict):
            closed[key] = {name: _close(child) for name, child in value.items()}
        elif key in {"items", "additionalProperties", "not", "anyOf", "allOf", "oneOf"}:
            closed[key] = _close(value)
        else:
            closed[key] = value
    if closed.get("nullable") is True and isinstance(closed.get("type"), str):
        closed["type"] = [closed["type"], "null"]
    is_object = closed.get("type") in ("object", ["object", "null"])
    preserves = closed.get("x-kubernetes-preserve-unknown-fields") is True
    if is_object and not preserves and "additionalProperties" not in closed:
        if closed.get("x-kubernetes-embedded-resource") is True:
            properties = closed.setdefault("properties", {})
            for field in ("apiVersion", "kind", "metadata"):
                properties.setdefault(field, {})
        closed["additionalProperties"] = False
    return closed


@functools.cache
def _crd_schemas(crd_dir: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> closed openAPIV3Schema of every served CRD version in crd_dir."""
    schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted([*crd_dir.rglob("*.yaml"), *crd_dir.rglob("*.yml")]):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            for version in spec.get("versions", []):
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if not version.get("served", True) or schema is None:
                    continue
                closed = _close(copy.deepcopy(schema))
                # metadata is validated with ObjectMeta; the CRD only describes part of it.
                closed.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(spec["group"], version["name"], spec["names"]["kind"])] = closed
    return schemas


@functools.cache
def _crd_validator(
    crd_dir: Path, group: str, version: str, kind: str
) -> jsonschema.Validator | None:
    schema = _crd_schemas(crd_dir).get((group, version, kind))
    if schema is None:
        return None
    return jsonschema.Draft4Validator(schema)


# --- entry point -------------------------------------------------------------------------------


def _describe(document: Document) -> str:
    name = document.get("metadata", {}).get("name", "<no name>")
    api_version = document.get("apiVersion", "<no apiVersion>")
    return f"{api_version} {document.get('kind', '<no kind>')}/{name}"


def _format(where: str, error: jsonschema.ValidationError, prefix: Sequence[str | int] = ()) -> str:
    path = ".".join(str(part) for part in [*prefix, *error.absolute_path]) or "<root>"
    return f"{where}: {path}: {error.message}"


def _errors(validator: jsonschema.Validator, instance: Any) -> list[jsonschema.ValidationError]:
    return sorted(
        validator.iter_errors(instance), key=lambda error: list(map(str, error.absolute_path))
    )


def validate_manifests(
    documents: Iterable[Document],
    kube_versions: Sequence[str] = KUBE_VERSIONS,
    crd_dir: Path | None = None,
) -> list[str]:
    """Validate every document; return one message per problem (see the module docstring)."""
    problems: list[str] = []
    crd_root = crd_dir.resolve() if crd_dir is not None else None
    for document in documents:
        api_version = document.get("apiVersion")
        kind = document.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            problems.append(f"{_describe(document)}: apiVersion and kind must be strings")
            continue
        group, _, version = api_version.rpartition("/")
        crd = _crd_validator(crd_root, group, version, kind) if crd_root and group else None
        if crd is not None:
            where = f"{_describe(document)} (CRD schema)"
            problems += [_format(where, error) for error in _errors(crd, document)]
            for kube_version in kube_versions:
                meta = _object_meta_validator(kube_version)
                where = f"{_describe(document)} (Kubernetes {kube_version} ObjectMeta)"
                problems += [
                    _format(where, error, ["metadata"])
                    for error in _errors(meta, document.get("metadata", {}))
                ]
            continue
        for kube_version in kube_versions:
            builtin = _builtin_validator(kube_version, api_version, kind)
            where = f"{_describe(document)} (Kubernetes {kube_version})"
            if builtin is None:
                known = "built-in schemas" + (f" or CRDs under {crd_root}" if crd_root else "")
                problems.append(f"{where}: unknown kind: not in the {known}")
                continue
            problems += [_format(where, error) for error in _errors(builtin, document)]
    return problems


# -- the API server's own validation (tools/apiserver-validate) -------------------------------


class ApiServerToolError(RuntimeError):
    """tools/apiserver-validate is missing, older than its sources, or failed to run."""


def apiserver_errors(
    manifests: Sequence[str],
    namespace: str = "default",
    crd_dir: Path | None = None,
    pod_security: str | None = None,
    previous: Sequence[str] | None = None,
) -> list[list[str]]:
    """For each manifests text (helm template's output), the API server's refusals of its
    documents, one "Kind/name: field: message" each (see tools/apiserver-validate/main.go):
    a built-in kind's registry strategy (PrepareForCreate and validation, after defaulting), as
    a create runs it; with crd_dir, a custom resource as the apiextensions handler creates it
    from the CRDs there (unknown fields, the schema, the CEL rules), and a kind neither built in
    nor defined there is an error. Without crd_dir custom resources are left to
    validate_manifests. With pod_security ("restricted", "baseline", or with a version:
    "restricted:v1.34"), as in a namespace labelled pod-security.kubernetes.io/enforce with it:
    a Pod, and the pod template of a Deployment, StatefulSet, Job or other workload, is also
    evaluated by Pod Security admission (k8s.io/pod-security-admission), one
    'Kind/name: pod security "restricted:latest": reason (detail)' per check it fails. With
    previous (one text per manifests text: the release as it stands, helm template's output of
    the revision before), an object both hold is validated as the upgrade helm or a client-side
    apply sends (the three-way patch applied to the object the previous text created, then the
    kind's update validation: immutable fields, CEL transition rules); Helm hooks are created
    anew. Every text is validated by one run of the tool (one per pair with previous)."""
    if not APISERVER_VALIDATE.is_current():
        raise ApiServerToolError(
            f"{APISERVER_VALIDATE.binary} is missing or older than its sources: run `make "
            "bootstrap` (needs Go 1.26 and the Go module proxy)"
        )
    if previous is not None and len(previous) != len(manifests):
        raise ValueError(f"{len(previous)} previous texts for {len(manifests)} manifests")
    flags = ["-namespace", namespace]
    flags += [] if crd_dir is None else ["-crds", str(crd_dir)]
    flags += [] if pod_security is None else ["-pod-security", pod_security]
    if previous is None:
        return _apiserver_run(manifests, flags, crd_dir)
    found: list[list[str]] = []
    for text, before in zip(manifests, previous, strict=True):
        found += _apiserver_run([text], flags, crd_dir, before)
    return found


def _apiserver_run(
    manifests: Sequence[str], flags: list[str], crd_dir: Path | None, previous: str | None = None
) -> list[list[str]]:
    """One run of tools/apiserver-validate on the texts (see apiserver_errors)."""
    if not manifests:
        return []
    with tempfile.TemporaryDirectory(prefix="apiserver-validate-") as directory:
        files = []
        for index, text in enumerate(manifests):
            path = Path(directory) / f"{index}.yaml"
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        if previous is not None:
            before = Path(directory) / "previous.yaml"
            before.write_text(previous, encoding="utf-8")
            flags = [*flags, "-previous", str(before)]
        found = subprocess.run(
            [str(APISERVER_VALIDATE.binary), *flags, *files],
            capture_output=True,
            text=True,
            check=False,
        )
    if found.returncode not in (0, 1):
        raise ApiServerToolError(f"apiserver-validate exited {found.returncode}: {found.stderr}")
    errors: list[list[str]] = [[] for _ in manifests]
    for line in found.stdout.splitlines():
        result = json.loads(line)
        index = int(Path(result["file"]).stem)
        where = f"{result['kind']}/{result['name']}"
        errors[index] += [f"{where}: {error}" for error in result["errors"]]
        if result["result"] == "unknown-kind" and crd_dir is not None:
            errors[index].append(
                f"{where}: unknown kind {result['apiVersion']}: no CRD under {crd_dir}"
            )
    return errors
