"""The chart's template rules through helm: only what _validate.tpl reads is sent
(check/chart_templates.py read_paths/case_reads/project), and that never changes an answer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.chart_templates import (
    WHOLE,
    CaseReads,
    ChartTemplates,
    ReadPaths,
    case_reads,
    project,
    read_paths,
)
from catalog_gen.plan.pipeline import plan_catalog
from catalog_gen.problems import Report
from tests.chart.test_guardrails import TEMPLATE_RULES
from tests.conftest import REPO_ROOT
from tests.unit.helpers import CHART, helm_runs


def test_chains_become_a_tree_of_the_keys_read() -> None:
    paths = read_paths(["{{ .Values.a.b }} {{ $.Values.a.c }}", "{{ .Values.d }}{{ .Values.e.f }}"])
    assert paths == {"a": {"b": WHOLE, "c": WHOLE}, "d": WHOLE, "e": {"f": WHOLE}}


def test_a_shorter_chain_keeps_the_whole_subtree_in_any_order() -> None:
    assert read_paths(["{{ .Values.a.b }}{{ .Values.a }}"]) == {"a": WHOLE}
    assert read_paths(["{{ .Values.a }}{{ .Values.a.b }}"]) == {"a": WHOLE}


@pytest.mark.parametrize(
    "text",
    [
        "{{ toJson .Values }}",
        '{{ index .Values "models" }}',
        "{{ $v := .Values }}{{ $v.models }}",
        '{{ get $.Values "gpu" }}',
        "{{ tpl .Values.a.b . }}",
        '{{ dig "Values" "gpu" . }}',
        "{{ toJson $ }}",
        '{{ include "x" (list $) }}',
    ],
)
def test_values_read_any_other_way_send_everything(text: str) -> None:
    assert read_paths([f"{{{{ .Values.gpu.count }}}}{text}"]) is WHOLE


def test_keys_are_go_template_field_names() -> None:
    assert read_paths(["{{ .Values.aña.b_1 }}{{ .Values._x }}"]) == {
        "aña": {"b_1": WHOLE},
        "_x": WHOLE,
    }


def test_comments_are_not_code() -> None:
    text = "{{/* reads .Values only, e.g. index .Values x */}}{{- /* tpl */ -}}{{ .Values.a }}"
    assert read_paths([text]) == {"a": WHOLE}


def test_project_keeps_what_the_chains_end_on() -> None:
    values = {"a": {"b": [1], "c": 2, "x": 3}, "d": "text", "y": {"z": 1}}
    paths: ReadPaths = {"a": {"b": WHOLE, "c": WHOLE}, "d": {"e": WHOLE}, "missing": WHOLE}
    # d is not a mapping where the chain goes on: kept whole, so helm fails on it the same way
    assert project(values, paths) == {"a": {"b": [1], "c": 2}, "d": "text"}
    assert project(values, WHOLE) is values


def test_the_chart_reads_only_chains() -> None:
    """The driver's files reach values only through chains (else every case would be sent
    whole, and services differing in names only would each cost helm a case)."""
    paths = ChartTemplates(CHART).case_reads().always
    assert paths is not WHOLE
    assert "fullnameOverride" not in paths
    assert "models" in paths


GUARDED = """
{{- define "x" }}
{{- if .Values.g.on }}{{ .Values.a }}{{ if and .Values.h $.Values.i }}{{ .Values.b.c }}{{ end }}
{{- else if .Values.j }}{{ .Values.k }}{{ end }}
{{- range .Values.items }}{{ if .Values.l }}{{ $.Values.m }}{{ end }}{{ end }}
{{- if not .Values.n }}{{ .Values.o }}{{ end }}
{{- end }}
"""


def test_chains_read_only_under_an_if_are_apart_with_their_guards() -> None:
    reads = case_reads([GUARDED])
    # The tests themselves, an else branch, a guard inside range (`.` is an item there) or
    # any condition but chains and `and` of chains are read always.
    always = {"g": {"on": WHOLE}, "j": WHOLE, "k": WHOLE, "items": WHOLE, "l": WHOLE}
    assert reads.always == {**always, "m": WHOLE, "n": WHOLE, "o": WHOLE}
    assert reads.guarded == (
        ((("g", "on"),), (("a",), ("h",), ("i",))),
        ((("g", "on"), ("h",), ("i",)), (("b", "c"),)),
    )


def test_guarded_chains_are_sent_only_where_every_guard_is_truthy_as_go_reads_it() -> None:
    reads = case_reads([GUARDED])
    values = {"g": {"on": True}, "a": 1, "h": [0], "i": "x", "b": {"c": 2, "d": 3}, "k": 4}
    assert project(values, reads.paths_for(values)) == {
        "g": {"on": True},
        "a": 1,
        "h": [0],
        "i": "x",
        "b": {"c": 2},
        "k": 4,
    }
    falsy_values: list[Any] = [False, 0, 0.0, "", [], {}, None]
    for falsy in falsy_values:
        off = {**values, "g": {"on": falsy}}
        assert project(off, reads.paths_for(off)) == {"g": {"on": falsy}, "k": 4}
    # A value that is not a mapping where a guard's chain goes on: sent as if it held.
    odd = {**values, "g": "on"}
    assert project(odd, reads.paths_for(odd))["a"] == 1
    assert "b" not in project({**values, "i": ""}, reads.paths_for({**values, "i": ""})), (
        "`and` needs every chain truthy"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{{ if .Values.g }}{{ .Values.a }}",  # never ended
        "{{ .Values.a }}{{ end }}",  # an end too many
        '{{ if eq "}}" .Values.g }}{{ .Values.a }}{{ end }}',  # a `}}` in a string: no guard
    ],
)
def test_a_structure_not_followed_reads_every_chain_always(text: str) -> None:
    reads = case_reads([text])
    assert reads == CaseReads(read_paths([text]))
    assert reads.always is not WHOLE
    assert "a" in reads.always


@pytest.mark.parametrize("text", ['{{ .Values.a }}{{ "never closed }}', "{{/* never closed }}"])
def test_an_action_or_comment_never_closed_sends_everything(text: str) -> None:
    assert read_paths([text]) is WHOLE
    assert case_reads([text]) == CaseReads(WHOLE)


def test_strings_and_comments_are_read_as_gos_lexer_reads_them() -> None:
    """An action ends at the first `}}` outside a string (a review hid a balanced `if` and
    `end` in two strings, and a `{{/*` ... `*/}}` pair, which the comment pattern took for a
    comment around real code)."""
    hidden = (
        '{{- $s := printf "}}{{ if .Values.gateway.enabled }}" }}'
        "{{- if .Values.service.type }}{{ .Values.fullnameOverride }}{{ end }}"
        '{{- $s = printf "}}{{ end }}" }}'
    )
    reads = case_reads([hidden])
    assert reads.guarded == (((("service", "type"),), (("fullnameOverride",),)),)
    in_strings = '{{ $s := "{{/*" }}{{ .Values.fullnameOverride }}{{ $s = "*/}}" }}'
    assert read_paths([in_strings]) == {"fullnameOverride": WHOLE}
    ended = '{{ if .Values.g }}{{ "}}{{ end }}" }}{{ .Values.a }}{{ end }}'
    assert case_reads([ended]).guarded == (((("g",),), (("a",),)),)


def test_a_define_or_block_body_is_not_guarded_by_an_if_around_it() -> None:
    """A block's body is a template that `include` may run anywhere: the `if` around where it
    is defined does not guard what it reads."""
    text = '{{ if .Values.g }}{{ block "b" . }}{{ .Values.x }}{{ end }}{{ end }}'
    reads = case_reads([text])
    assert reads.always == {"g": WHOLE, "x": WHOLE}
    assert reads.guarded == ()


def _cases() -> list[dict[str, Any]]:
    """Effective values: the shipped catalog's plans, each rule's failing values, and each of
    those again with what the rules never read changed."""
    chart = ChartContract.load(CHART)
    report = Report()
    planned = plan_catalog(REPO_ROOT / "catalog", "catalog", chart, report)
    cases = [dict(plan.effective) for plan in planned.plans]
    cases += [chart.effective(values) for values, _ in TEMPLATE_RULES]
    renamed = []
    for case in cases:
        other = copy.deepcopy(case)
        other["fullnameOverride"] = "another-name"
        other.setdefault("httpRoute", {})["hostnames"] = ["elsewhere.example.com"]
        renamed.append(other)
    return cases + renamed


def test_projected_cases_get_the_answers_whole_cases_get(tmp_path: Path) -> None:
    cases = _cases()
    whole = ChartTemplates(CHART)
    whole._reads = CaseReads(WHOLE)  # the reference: everything sent
    projected = ChartTemplates(CHART).messages(cases)
    assert projected == whole.messages(cases)
    assert any(projected), "the cases must include failing ones"


def test_services_differing_only_in_what_the_rules_never_read_are_one_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = helm_runs(monkeypatch)
    chart = ChartContract.load(CHART)
    first = chart.effective({"fullnameOverride": "a", "models": [{"name": "phi"}]})
    second = chart.effective({"fullnameOverride": "b", "models": [{"name": "phi"}]})
    third = chart.effective({"fullnameOverride": "b", "models": [{"name": "qwen"}]})
    assert ChartTemplates(CHART).messages([first, second, third]) == [(), (), ()]
    assert sent == [2]


def test_services_differing_only_in_hosts_are_one_case_without_the_charts_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hostnames rule reads every service's hosts, but only under gateway.enabled: without
    it, a catalog of services with a host each must not cost helm a case per service."""
    sent = helm_runs(monkeypatch)
    chart = ChartContract.load(CHART)

    def effective(host: str, gateway: bool) -> dict[str, Any]:
        return chart.effective(
            {
                "models": [{"name": "phi"}],
                "httpRoute": {"enabled": True, "hostnames": [host, f"api.{host}"]},
                "gateway": {"enabled": gateway},
            }
        )

    templates = ChartTemplates(CHART)
    assert templates.messages([effective("a.example.com", False)] * 2) == [(), ()]
    assert templates.messages([effective("b.example.com", False)]) == [()]
    assert sent == [1]
    both = [effective("a.example.com", True), effective("b.example.com", True)]
    answers = templates.messages(both)
    assert sent == [1, 2]
    assert all("listens for a.example.com only" not in item.message for item in answers[1])
    assert any("listens for b.example.com only" in item.message for item in answers[1])


@pytest.mark.parametrize("configured", ["/nonexistent/helm", "."])
def test_a_helm_setting_that_names_no_program_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str
) -> None:
    # Exit 2 (what the environment asks of catalog-gen), as with no helm at all, not 1 (which
    # says the catalog is invalid).
    from tests.unit.helpers import leaf, make_catalog, run_cli

    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    monkeypatch.setenv("CATALOG_GEN_HELM", configured)
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 2, outcome.stdout + outcome.stderr
    assert f"CATALOG_GEN_HELM={configured} is not an executable file" in outcome.stderr


def test_a_helm_setting_that_is_a_bare_name_is_found_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog_gen.check.chart_templates import find_helm
    from tests.conftest import helm_binary

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(helm_binary("3.19.0"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("CATALOG_GEN_HELM", "helm")
    monkeypatch.chdir(tmp_path)  # no ./helm here: PATH's is the one that runs
    assert find_helm(CHART) == bin_dir / "helm"


def test_the_benchmarks_dev_leaves_are_one_case_whatever_their_names_and_hosts(
    tmp_path: Path,
) -> None:
    """Issue 13's catalog (bench/generator.py `dev`: the proof of concept's leaf, a name, a
    namespace and a host each) must cost helm one case, not one per service: a rule that reads
    a per-service value outside the `if` that enables it (chart 0.3.16's hostnames rule) made
    a cold render of 10,000 leaves 40 % slower, and no test saw it."""
    from bench.generator import SHAPES, synthesize

    synthesize(tmp_path, SHAPES["dev"], 30)
    chart = ChartContract.load(CHART)
    report = Report()
    planned = plan_catalog(tmp_path / "catalog", "catalog", chart, report)
    assert report.ok, report.format_text()
    assert chart.templates is not None
    texts = {chart.templates.case_text(plan.effective) for plan in planned.plans}
    assert len(planned.plans) == 30
    assert len(texts) == 1
