"""What a leaf's chartValues cannot set: the chart values only its own model fields set
(check/rules.py LEAF_ONLY_VALUES), whose rules (the lock and requireLock included) never see
chartValues. Numbers Helm cannot hold are tests/chart/test_helm_numbers.py and the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.check.chart_contract import leaf_fields_of
from catalog_gen.lock.lockfile import write_lock
from catalog_gen.lock.model import ModelLock
from tests.conftest import REPO_ROOT
from tests.unit.helpers import error_lines, leaf, make_catalog, pin, run_cli

MIRROR_PHI = "mirror.internal.example:5000/library/phi:latest"


def refused(tmp_path: Path, body: str) -> list[str]:
    """The error lines `validate` gives for one dev leaf of body (it must exit 1)."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1, outcome.stdout
    return error_lines(outcome.stdout)


def json_paths(lines: list[str]) -> list[str]:
    return [line.split(": error: ")[1].split(":")[0] for line in lines]


@pytest.mark.parametrize(
    "chart_values",
    [
        '{models: [{name: "evil.example.com/x/unpinned:latest", digest: ""}]}',
        "{models: []}",
        "{models: null}",
    ],
)
def test_chart_values_cannot_replace_the_pinned_models(tmp_path: Path, chart_values: str) -> None:
    # Environment `locked` requires every model pinned; phi is: only chartValues is wrong.
    body = f"model: phi\nchartValues: {chart_values}\n"
    catalog = make_catalog(tmp_path, {"locked/ml/svc.yaml": leaf(body, environment="locked")})
    lock = {MIRROR_PHI: pin(MIRROR_PHI, "ab", registry="http://mirror.internal.example:5000")}
    write_lock(catalog / "models.lock.yaml", ModelLock(lock))
    outcome = run_cli(tmp_path, "render", "--no-cache", "--out", "generated")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [
        "catalog/locked/ml/svc.yaml:7:15: error: $.chartValues.models: chartValues cannot set "
        "models: the leaf's model or models set it, where the model rules (references, the "
        "model lock and requireLock, derived models) apply; set model or models instead and "
        "remove this key"
    ]
    assert not (tmp_path / "generated").exists()


def test_chart_values_derived_models_are_refused_beside_the_leafs_shape_errors(
    tmp_path: Path,
) -> None:
    body = (
        "model: phi\ncolour: red\nchartValues:\n"
        "  derivedModels: [{name: evil, modelfile: FROM phi}]\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    errors = error_lines(outcome.stdout)
    assert errors[0].startswith("catalog/dev/ml/svc.yaml:7:1: error: $.colour: unknown key")
    assert errors[1:] == [
        "catalog/dev/ml/svc.yaml:9:3: error: $.chartValues.derivedModels: chartValues cannot "
        "set derivedModels: the leaf's derivedModels set it, where the model rules "
        "(references, the model lock and requireLock, derived models) apply; set derivedModels "
        "instead and remove this key"
    ]


def test_a_map_key_the_chart_refuses_is_reported_at_that_key(tmp_path: Path) -> None:
    # The chart judges annotation and selector keys (propertyNames): the error's path stops at
    # the map, so the key itself is where the problem is.
    body = (
        "model: phi:latest\nchartValues:\n  podAnnotations:\n    good.example.com/x: '1'\n"
        "    bad key: '3'\n  nodeSelector:\n    ok: x\n    '': y\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1
    assert [
        line.split(": error: ")[0] + " " + line.split(": ")[2][:40]
        for line in error_lines(outcome.stdout)
    ] == [
        'catalog/dev/ml/svc.yaml:10:5 $.chartValues.podAnnotations["bad key"]',
        'catalog/dev/ml/svc.yaml:13:5 $.chartValues.nodeSelector[""]',
    ]
    assert "chart value podAnnotations: key 'bad key' does not match" in outcome.stdout


def test_a_character_yaml_cannot_hold_is_refused_where_the_leaf_writes_it(tmp_path: Path) -> None:
    # helm's toYaml would have dropped the pod's whole securityContext or environment, silently.
    body = (
        'model: phi:latest\nchartValues:\n  extraEnv:\n    - {name: A, value: "x\\x7fy"}\n'
        "  podSecurityContext:\n    sysctls:\n"
        '      - {name: net.ipv4.ping_group_range, value: "0\\u0085 1"}\n'
    )
    lines = refused(tmp_path, body)
    assert json_paths(lines) == [
        "$.chartValues.extraEnv[0].value",
        "$.chartValues.podSecurityContext.sysctls[0].value",
    ]
    assert all("helm's toYaml drops the whole block" in line for line in lines)


def test_a_bad_default_under_a_mapping_the_leaf_writes_says_where_it_comes_from(
    tmp_path: Path,
) -> None:
    # The leaf writes `scaleToZero: {}`; afterIdle comes from the environment's defaults, so the
    # leaf line alone would send its author looking for 'auto' in the leaf.
    catalog = make_catalog(
        tmp_path, overlay=REPO_ROOT / "catalog", environments=REPO_ROOT / "catalog/environments"
    )
    leaf_path = catalog / "dev/ml-workloads/ollama-phi.yaml"
    text = leaf_path.read_text(encoding="utf-8")
    leaf_path.write_text(text.replace("scaleToZero: {afterIdle: 30m}", "scaleToZero: {}"))
    environment = catalog / "environments/dev.yaml"
    text = environment.read_text(encoding="utf-8")
    assert "scaleToZero: {afterIdle: 30m}" in text
    environment.write_text(
        text.replace("scaleToZero: {afterIdle: 30m}", "scaleToZero: {afterIdle: auto}")
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    (error,) = error_lines(outcome.stdout)
    assert error.startswith("catalog/dev/ml-workloads/ollama-phi.yaml:16:16: error: ")
    assert "'auto' does not match" in error
    assert error.endswith(
        "(the value comes from the environment (its defaults or settings) or the chart's "
        "defaults; setting it here overrides them)"
    )


def test_a_chart_value_duration_go_cannot_hold_is_refused_where_it_is(tmp_path: Path) -> None:
    # Ollama's envconfig falls back to its default (5m) when time.ParseDuration fails: the
    # chart's schema bounds only the integer form, so a load timeout of 2562048h reached the pod.
    body = (
        "model: phi:latest\nchartValues:\n  ollama:\n    loadTimeout: 2562048h\n"
        "    keepAlive: 100000000000s\n"
    )
    lines = refused(tmp_path, body)
    assert json_paths(lines) == [
        "$.chartValues.ollama.loadTimeout",
        "$.chartValues.ollama.keepAlive",
    ]
    assert "end a model load that stalls after 5m" in lines[0]
    fits = "model: phi:latest\nchartValues:\n  ollama:\n    loadTimeout: 2562047h\n"
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(fits)})
    assert run_cli(tmp_path, "validate").code == 0


@pytest.mark.parametrize(
    ("chart_values", "where"),
    [
        # A rule between homeDir and cache.mountPath blamed cache.mountPath, which the leaf left
        # to the defaults: placed at the top of the file with a false note.
        ("  homeDir: /models\n", "catalog/dev/ml/svc.yaml:8:12: error: $.chartValues.homeDir:"),
        # The schema's rule judges the block by a key the leaf does not set.
        (
            "  securityContext:\n    capabilities:\n      add: [CAP_SYS_ADMIN]\n",
            "catalog/dev/ml/svc.yaml:9:5: error: $.chartValues.securityContext:",
        ),
    ],
    ids=["template-rule-between-values", "schema-rule-on-the-block"],
)
def test_a_chart_rule_is_placed_where_the_leaf_sets_what_it_judges(
    tmp_path: Path, chart_values: str, where: str
) -> None:
    (line,) = refused(tmp_path, f"model: phi:latest\nchartValues:\n{chart_values}")
    assert line.startswith(where), line
    assert "the value comes from" not in line


def test_an_ip_block_except_outside_its_cidr_is_refused_where_the_leaf_writes_it(
    tmp_path: Path,
) -> None:
    # The API server refuses the NetworkPolicy; the chart cannot compute CIDRs.
    body = (
        "model: phi:latest\ningress: {enabled: true}\nchartValues:\n  networkPolicy:\n"
        "    registry:\n      peers:\n"
        "        - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 192.168.0.0/16]}\n"
    )
    # (Where the environment makes the NetworkPolicy, its peers are the environment's too.)
    enforced, line = refused(tmp_path, body)
    assert "$.chartValues.networkPolicy.registry.peers: chartValues cannot change" in enforced
    assert "$.chartValues.networkPolicy.registry.peers[0].ipBlock.except[1]: ipBlock except" in line


def test_seconds_past_gos_range_are_said_to_wrap_not_to_be_ignored(tmp_path: Path) -> None:
    # envconfig parses digits with ParseInt and multiplies by time.Second: 18446744074 wraps to
    # 290ms (the message said Ollama would ignore it).
    body = 'model: phi:latest\nchartValues:\n  ollama:\n    keepAlive: "18446744074"\n'
    (line,) = refused(tmp_path, body)
    assert "wraps around" in line


@pytest.mark.parametrize(
    ("chart_values", "message"),
    [
        (
            "podAnnotations: {example.com/a: null}",
            'error: $.chartValues.podAnnotations["example.com/a"]: chart value '
            "podAnnotations.example.com/a: null is not of type 'string'",
        ),
        (
            "affinity: {nodeAffinity: null}",
            "error: $.chartValues.affinity.nodeAffinity: chart value affinity.nodeAffinity: "
            "null is not of type 'object'",
        ),
        ("unknownKey: null", "error: $.chartValues.unknownKey: unknown chart value 'unknownKey'"),
    ],
)
def test_a_null_the_charts_defaults_lack_is_judged_as_helm_judges_it(
    tmp_path: Path, chart_values: str, message: str
) -> None:
    """helm deletes a null only where the chart's defaults have the key (chartutil coalesce walks
    the defaults' keys); anywhere else the null stays, and the schema refuses it: catalog-gen
    deleted every null, so it accepted values helm and Argo CD cannot render."""
    lines = refused(tmp_path, f"model: phi:latest\nchartValues:\n  {chart_values}\n")
    assert len(lines) == 1, lines
    assert message in lines[0]


def test_a_null_over_a_default_still_removes_it(tmp_path: Path) -> None:
    # values.yaml has podAnnotations: {}: a null there deletes the default, as helm does, and the
    # chart renders without it.
    make_catalog(
        tmp_path,
        {"dev/ml/svc.yaml": leaf("model: phi:latest\nchartValues:\n  podAnnotations: null\n")},
    )
    assert run_cli(tmp_path, "validate").code == 0


@pytest.mark.parametrize(
    ("chart_values", "where"),
    [
        ("updateStrategy: null", "$.chartValues.updateStrategy"),
        ("updateStrategy: {maxSurge: null}", "$.chartValues.updateStrategy.maxSurge"),
        ("gpu: {tolerationKey: null}", "$.chartValues.gpu.tolerationKey"),
    ],
)
def test_a_null_cannot_delete_what_the_rollout_and_gpu_rules_read(
    tmp_path: Path, chart_values: str, where: str
) -> None:
    """Deleted, the chart rendered `maxSurge: null` (the API server reads 25%: one more GPU pod
    than the environment spares) past the rollout rule, or a toleration without a key."""
    lines = refused(
        tmp_path, f"model: phi:latest\ngpu: {{count: 1}}\nchartValues:\n  {chart_values}\n"
    )
    assert [line.split(": error: ")[1].split(": ")[0] for line in lines] == [where]
    assert "cannot be deleted" in lines[0]


@pytest.mark.parametrize(
    ("chart_value", "leaf_fields"),
    [
        (("httpRoute", "enabled"), [("ingress", "enabled")]),
        (("replicaCount",), [("container", "replicas")]),
        (("resources", "limits", "cpu"), [("container", "resources", "limits", "cpu")]),
        (("costLabels", "team"), [("owner",)]),
        (("models", 0, "name"), [("models", 0, "name")]),
        (("httpRoute", "parentRefs"), [("ingress",), ("gateway",)]),  # no field: the nearest
        (("podAnnotations",), []),  # chartValues' alone
    ],
)
def test_the_leaf_field_of_a_chart_value_is_read_from_the_leaf_schema(
    chart_value: tuple[str | int, ...], leaf_fields: list[tuple[str | int, ...]]
) -> None:
    """What a chart rule's message names in the chart's terms, said in the leaf's (review:
    keda-http's `set httpRoute.enabled=true` for a leaf whose fix is ingress.enabled)."""
    assert leaf_fields_of(chart_value) == leaf_fields


def test_a_template_rule_on_a_value_from_a_leaf_field_is_placed_at_that_field(
    tmp_path: Path,
) -> None:
    # The HTTPRoute's hostname is the leaf's ingress.host: the chart's rule on it was placed at
    # `ingress` with "the value comes from the environment ... or the chart's defaults" (review).
    catalog = make_catalog(
        tmp_path, overlay=REPO_ROOT / "catalog", environments=REPO_ROOT / "catalog/environments"
    )
    (catalog / "dev/ml-workloads/gw2.yaml").write_text(
        leaf(
            "model: phi:latest\ngpu: {count: 0}\n"
            "ingress: {enabled: true, host: gw2.dev.inference.example.com}\n"
            "chartValues:\n"
            '  gateway: {enabled: true, className: eg, tls: {hostname: "*.gw2.example.com"}}\n'
            "  httpRoute: {parentRefs: []}\n",
            name="gw2",
            namespace="ml-workloads",
        ),
        encoding="utf-8",
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    (error,) = error_lines(outcome.stdout)
    assert error.startswith(
        "catalog/dev/ml-workloads/gw2.yaml:8:32: error: $.ingress.host: httpRoute.hostnames has "
        "gw2.dev.inference.example.com, but the chart's Gateway"
    ), error
    assert "the value comes from" not in error
