"""The Go-template renderer the ApplicationSet tests rely on: Go semantics for its subset."""

from __future__ import annotations

import pytest

from tests.support.gotemplate import (
    ARGOCD_RESOURCES_FINALIZER,
    GoTemplateError,
    git_files_params,
    render,
    render_application,
    render_tree,
)

STRICT = ["missingkey=error"]
PARAMS = git_files_params(
    "generated/dev/team-a/phi/app.json",
    {"service": "phi", "nested": {"wave": "2"}, "count": 3.0, "empty": ""},
)


def test_git_files_generator_path_parameters() -> None:
    assert PARAMS["path"] == {
        "path": "generated/dev/team-a/phi",
        "basename": "phi",
        "filename": "app.json",
        "basenameNormalized": "phi",
        "filenameNormalized": "app.json",
        "segments": ["generated", "dev", "team-a", "phi"],
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ .service }}", "phi"),
        ("{{.service}}-{{ .nested.wave }}", "phi-2"),
        ("{{ index .path.segments 2 }}", "team-a"),
        ("{{ .path.basename }}/{{ .path.filename }}", "phi/app.json"),
        ("{{ .count }}", "3"),
        ('{{ .empty | default "none" }}', "none"),
        ('{{ default "none" .service }}', "phi"),
        ("{{ .service | upper }}", "PHI"),
        ('{{ printf "%s-%s" .service "x" }}', "phi-x"),
        ("{{ trunc 2 .service }}", "ph"),
        ("a {{- .service -}} b", "aphib"),
        ("{{/* a comment */}}x", "x"),
        ('{{ index .nested "wave" }}', "2"),
        ("{{ (index .path.segments 1) }}", "dev"),
    ],
)
def test_renders_like_go(template: str, expected: str) -> None:
    assert render(template, PARAMS, STRICT) == expected


def test_missing_key_is_an_error_with_missingkey_error() -> None:
    with pytest.raises(GoTemplateError, match='map has no entry for key "servce"'):
        render("{{ .servce }}", PARAMS, STRICT)


def test_missing_key_prints_no_value_by_default() -> None:
    assert render("{{ .servce }}", PARAMS) == "<no value>"


def test_missing_nested_key_without_option_is_a_nil_pointer() -> None:
    with pytest.raises(GoTemplateError, match="nil pointer"):
        render("{{ .missing.field }}", PARAMS)


def test_index_out_of_range_is_an_error() -> None:
    with pytest.raises(GoTemplateError, match="index out of range"):
        render("{{ index .path.segments 9 }}", PARAMS, STRICT)


@pytest.mark.parametrize(
    "template",
    ["{{ if .service }}x{{ end }}", "{{ $x := 1 }}", "{{ nosuchfunc .service }}", "{{ .service"],
)
def test_unsupported_or_invalid_templates_fail_loudly(template: str) -> None:
    with pytest.raises(GoTemplateError):
        render(template, PARAMS, STRICT)


def test_field_of_a_string_is_an_error() -> None:
    with pytest.raises(GoTemplateError, match="can't evaluate field"):
        render("{{ .service.name }}", PARAMS, STRICT)


def test_render_tree_renders_keys_and_values_and_keeps_other_types() -> None:
    tree = {"{{ .service }}-key": ["{{ .service }}", True, 3], "n": None}
    assert render_tree(tree, PARAMS, STRICT) == {"phi-key": ["phi", True, 3], "n": None}


def _appset(preserve: bool) -> dict[str, object]:
    return {
        "metadata": {"name": "x", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": STRICT,
            "syncPolicy": {"preserveResourcesOnDeletion": preserve},
            "template": {"metadata": {"name": "{{ .service }}"}, "spec": {"project": "p"}},
        },
    }


def test_application_gets_the_deletion_finalizer_unless_resources_are_preserved() -> None:
    deleting = render_application(_appset(False), PARAMS)
    assert deleting["metadata"] == {
        "name": "phi",
        "namespace": "argocd",
        "finalizers": [ARGOCD_RESOURCES_FINALIZER],
    }
    preserving = render_application(_appset(True), PARAMS)
    assert "finalizers" not in preserving["metadata"]
