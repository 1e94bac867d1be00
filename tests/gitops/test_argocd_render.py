"""tools/argocd-render behaves as Argo CD's ApplicationSet controller: the cases where Go
templates, sprig and the git files generator differ from what a reader might expect."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.support.argocd import RESOURCES_FINALIZER, git_repository, render_applications

RECORD = {"service": "phi", "nested": {"wave": "2"}, "count": 1000000, "small": 3, "empty": ""}
RECORD_PATH = PurePosixPath("generated/dev/team-a/Phi_Svc/app.json")


def application_set(
    template_metadata: dict[str, Any],
    template_spec: dict[str, Any] | None = None,
    *,
    files: list[dict[str, Any]] | None = None,
    options: list[str] | None = None,
    preserve: bool = False,
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "test", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"] if options is None else options,
            "generators": [
                {
                    "git": {
                        "repoURL": "https://example.com/repo.git",
                        "revision": "main",
                        "files": files or [{"path": "generated/dev/**/app.json"}],
                    }
                }
            ],
            "syncPolicy": {"preserveResourcesOnDeletion": preserve},
            "template": {
                "metadata": template_metadata,
                "spec": template_spec
                or {
                    "project": "p",
                    "source": {"repoURL": "https://example.com/repo.git", "path": "x"},
                    "destination": {"server": "https://kubernetes.default.svc"},
                },
            },
        },
    }


def run(
    tmp_path: Path,
    shared_dir: Path,
    appset: dict[str, Any],
    extra: dict[PurePosixPath, bytes] | None = None,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    files = {RECORD_PATH: json.dumps(RECORD).encode(), **(extra or {})}
    files[PurePosixPath("appset.yaml")] = yaml.safe_dump(appset).encode()
    repository = git_repository(tmp_path, files)
    result = render_applications(repository, [repository / "appset.yaml"], shared_dir / "crds")
    assert result.exit_code == (1 if result.errors else 0)
    return result.applications, result.errors


def name_of(tmp_path: Path, shared_dir: Path, template: str, **kwargs: Any) -> str:
    applications, errors = run(tmp_path, shared_dir, application_set({"name": template}, **kwargs))
    assert errors == []
    return str(applications[str(RECORD_PATH)]["metadata"]["name"])


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .path.path }}", "generated/dev/team-a/Phi_Svc"),
        ("{{ .path.basename }}|{{ .path.filename }}", "Phi_Svc|app.json"),
        ("{{ .path.basenameNormalized }}|{{ .path.filenameNormalized }}", "phi-svc|app.json"),
        ("{{ index .path.segments 2 }}", "team-a"),
        ("{{ .nested.wave }}", "2"),
        ("{{ .small }}", "3"),
        # JSON numbers are float64 in Go: a large one prints in exponent form.
        ("{{ .count }}", "1e+06"),
        ("{{ int64 .count }}", "1000000"),
        ('{{ .empty | default "none" }}', "none"),
        ("{{ .service | upper | trunc 2 }}", "PH"),
        ('{{ normalize "A_B c" }}', "a-b-c"),
        ('{{ slugify "Hello World" }}', "hello-world"),
        ("{{ toYaml .nested }}", 'wave: "2"'),
        ('{{ (fromYaml "a: b").a }}', "b"),
    ],
)
def test_renders_like_argo_cd(
    tmp_path: Path, shared_dir: Path, template: str, expected: str
) -> None:
    assert name_of(tmp_path, shared_dir, template) == expected


@pytest.mark.parametrize("function", ["env", "expandenv", "getHostByName"])
def test_functions_argo_cd_removes_are_undefined(
    tmp_path: Path, shared_dir: Path, function: str
) -> None:
    _, errors = run(tmp_path, shared_dir, application_set({"name": f'{{{{ {function} "x" }}}}'}))
    assert f'function "{function}" not defined' in errors[0]["error"]


def test_missing_key_is_an_error_only_with_missingkey_error(
    tmp_path: Path, shared_dir: Path
) -> None:
    _, errors = run(tmp_path / "strict", shared_dir, application_set({"name": "{{ .servce }}"}))
    assert 'map has no entry for key "servce"' in errors[0]["error"]
    assert name_of(tmp_path / "lax", shared_dir, "{{ .servce }}", options=[]) == "<no value>"


def test_an_expression_cannot_produce_structure(tmp_path: Path, shared_dir: Path) -> None:
    # Each string is rendered on its own: YAML in a value stays a string.
    name = name_of(tmp_path, shared_dir, "x\nfinalizers: [a]")
    assert name == "x\nfinalizers: [a]"


def test_map_keys_are_templated_struct_field_names_are_not(
    tmp_path: Path, shared_dir: Path
) -> None:
    labels = {"name": "a", "labels": {"svc/{{ .service }}": "{{ .service }}"}}
    applications, errors = run(tmp_path / "map", shared_dir, application_set(labels))
    assert errors == []
    assert applications[str(RECORD_PATH)]["metadata"]["labels"] == {"svc/phi": "phi"}
    spec = {"project": "p", "{{ .service }}": "x", "destination": {}}
    _, errors = run(tmp_path / "struct", shared_dir, application_set({"name": "a"}, spec))
    assert "unknown field" in errors[0]["error"]


def test_a_templated_string_cannot_fill_a_boolean(tmp_path: Path, shared_dir: Path) -> None:
    spec = {
        "project": "p",
        "destination": {},
        "syncPolicy": {"automated": {"prune": "{{ .empty }}"}},
    }
    _, errors = run(tmp_path, shared_dir, application_set({"name": "a"}, spec))
    assert "type boolean" in errors[0]["error"]


def test_git_files_are_matched_like_git_ls_files(tmp_path: Path, shared_dir: Path) -> None:
    extra = {
        PurePosixPath("generated/dev/app.json"): b'{"service": "top"}',
        PurePosixPath("generated/dev/a/b/c/app.json"): b'{"service": "deep"}',
        PurePosixPath("generated/dev/skip/app.json"): b'{"service": "skip"}',
        PurePosixPath("generated/prod/x/app.json"): b'{"service": "prod"}',
    }
    files: list[dict[str, Any]] = [
        {"path": "generated/dev/**/app.json"},
        {"path": "generated/dev/skip/*", "exclude": True},
    ]
    appset = application_set({"name": "{{ .service }}"}, files=files)
    applications, errors = run(tmp_path, shared_dir, appset, extra)
    assert errors == []
    names = {path: app["metadata"]["name"] for path, app in applications.items()}
    assert names == {"generated/dev/a/b/c/app.json": "deep", str(RECORD_PATH): "phi"}


def test_a_file_with_a_list_gives_one_application_per_item(
    tmp_path: Path, shared_dir: Path
) -> None:
    extra = {PurePosixPath("generated/dev/list/app.json"): b'[{"service": "a"}, {"service": "b"}]'}
    appset = application_set({"name": "{{ .service }}"}, files=[{"path": "generated/dev/list/*"}])
    files = {RECORD_PATH: json.dumps(RECORD).encode(), **extra}
    files[PurePosixPath("appset.yaml")] = yaml.safe_dump(appset).encode()
    repository = git_repository(tmp_path, files)
    result = render_applications(repository, [repository / "appset.yaml"], shared_dir / "crds")
    assert result.errors == []
    assert [(file, app["metadata"]["name"]) for file, app in result.in_order] == [
        ("generated/dev/list/app.json", "a"),
        ("generated/dev/list/app.json", "b"),
    ]


@pytest.mark.parametrize(("preserve", "finalizers"), [(False, [RESOURCES_FINALIZER]), (True, None)])
def test_finalizer_and_namespace_are_set_by_the_controller(
    tmp_path: Path, shared_dir: Path, preserve: bool, finalizers: list[str] | None
) -> None:
    metadata = {"name": "a", "namespace": "elsewhere"}
    applications, _ = run(tmp_path, shared_dir, application_set(metadata, preserve=preserve))
    created = applications[str(RECORD_PATH)]["metadata"]
    assert created["namespace"] == "argocd"
    assert created.get("finalizers") == finalizers


# templatePatch: rendered with the same parameters, then a strategic merge patch of the
# Application (Argo CD's types declare no merge keys: objects merge, lists and scalars replace).
PATCH_SPEC = {
    "project": "p",
    "destination": {"server": "https://kubernetes.default.svc"},
    "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
}


def patched(tmp_path: Path, shared_dir: Path, patch: str) -> tuple[dict[str, Any], list[Any]]:
    appset = application_set({"name": "{{ .service }}"}, dict(PATCH_SPEC))
    appset["spec"]["templatePatch"] = patch
    applications, errors = run(tmp_path, shared_dir, appset)
    return applications.get(str(RECORD_PATH), {}), errors


def test_template_patch_merges_objects_and_replaces_lists(tmp_path: Path, shared_dir: Path) -> None:
    patch = (
        "{{- if .small }}\n"
        "spec:\n"
        "  ignoreDifferences: [{group: apps, kind: Deployment, name: '{{ .service }}'}]\n"
        "  syncPolicy: {syncOptions: [RespectIgnoreDifferences=true]}\n"
        "{{- end }}\n"
    )
    application, errors = patched(tmp_path, shared_dir, patch)
    assert errors == []
    spec = application["spec"]
    assert spec["ignoreDifferences"] == [{"group": "apps", "kind": "Deployment", "name": "phi"}]
    assert spec["syncPolicy"] == {
        "automated": {"prune": True},
        "syncOptions": ["RespectIgnoreDifferences=true"],
    }
    assert application["metadata"]["name"] == "phi"


def test_a_template_patch_that_renders_empty_changes_nothing(
    tmp_path: Path, shared_dir: Path
) -> None:
    application, errors = patched(
        tmp_path, shared_dir, "{{- if .empty }}\nspec: {project: q}\n{{- end }}\n"
    )
    assert errors == []
    assert application["spec"]["project"] == "p"
    assert "ignoreDifferences" not in application["spec"]


def test_a_template_patch_with_an_unknown_field_fails(tmp_path: Path, shared_dir: Path) -> None:
    _, errors = patched(tmp_path, shared_dir, "spec: {ignoreDifference: []}\n")
    assert 'unknown field "ignoreDifference"' in errors[0]["error"]
