"""plan/ (merge.py, service.py): how environment defaults, the leaf, the lock and chartValues
combine."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.check.chart_contract import ChartContract, coalesce, coalesce_again
from catalog_gen.lock.model import LockedModel
from catalog_gen.plan.merge import (
    CATALOG_LAYERS,
    OWN_LAYERS,
    MergeInputs,
    catalog_values,
    overlay,
)
from catalog_gen.plan.pipeline import CatalogPlan, _real_paths, plan_catalog
from catalog_gen.plan.service import value_origins
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report
from tests.conftest import REPO_ROOT
from tests.unit.helpers import (
    CHART,
    chart_schema,
    chart_with_schema,
    error_lines,
    leaf,
    make_catalog,
    pin,
    run_cli,
    run_python,
    without_owner,
)


@functools.cache
def chart() -> ChartContract:
    return ChartContract.load(CHART)


def plan(tmp_path: Path, files: dict[str, str], lock: Any = None) -> tuple[CatalogPlan, Report]:
    catalog = make_catalog(tmp_path, files)
    report = Report()
    result = plan_catalog(
        catalog,
        "catalog",
        chart(),
        report,
        lock_loader=(lambda path, report, display: lock) if lock is not None else None,
    )
    return result, report


def only_plan(tmp_path: Path, body: str, **kwargs: str) -> ServicePlan:
    environment = kwargs.get("environment", "dev")
    result, report = plan(tmp_path, {f"{environment}/ml/svc.yaml": leaf(body, **kwargs)})
    assert report.ok, report.format_text()
    (service,) = result.plans
    return service


def test_environment_defaults_fill_what_the_leaf_leaves_out(tmp_path: Path) -> None:
    service = only_plan(tmp_path, "model: phi\ncontainer:\n  resources:\n    limits: {cpu: 3}\n")
    assert service.chart_values["resources"] == {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"cpu": "3", "memory": "8Gi"},
    }
    assert service.chart_values["cache"] == {
        "mode": "emptyDir",
        "size": "20Gi",
        "storageClass": "standard",
    }
    assert "replicaCount" not in service.chart_values  # neither sets it: the chart's default
    assert service.replicas == 1


def test_leaf_keys_win_key_by_key_and_lists_are_replaced(tmp_path: Path) -> None:
    result, report = plan(
        tmp_path,
        {
            "environments/qa.yaml": (
                "environment: qa\nstorageClass: slow\n"
                "defaults:\n  cache: {mode: perReplica, size: 50Gi, storageClass: fast,"
                " accessModes: [ReadWriteOnce, ReadWriteMany]}\n"
            ),
            "qa/ml/svc.yaml": leaf(
                "model: phi\ncache: {size: 5Gi, accessModes: [ReadWriteOncePod]}\n",
                environment="qa",
            ),
        },
    )
    assert report.ok, report.format_text()
    assert result.plans[0].chart_values["cache"] == {
        "mode": "perReplica",
        "size": "5Gi",
        "storageClass": "fast",
        "accessModes": ["ReadWriteOncePod"],
    }


def test_exposure_derives_the_host_from_the_base_domain(tmp_path: Path) -> None:
    service = only_plan(tmp_path, "model: phi\ningress: {enabled: true}\n")
    assert service.exposure.hosts == ("svc.dev.example.com",)
    assert service.chart_values["httpRoute"] == {
        "enabled": True,
        "hostnames": ["svc.dev.example.com"],
        "parentRefs": [
            {"name": "shared-gateway", "namespace": "gateway-system", "sectionName": "https"}
        ],
    }
    assert service.chart_values["ingress"] == {"enabled": False}


def test_disabled_exposure_renders_neither_route_nor_ingress(tmp_path: Path) -> None:
    service = only_plan(tmp_path, "model: phi\ningress: {enabled: false, host: a.example.com}\n")
    assert service.chart_values["httpRoute"] == {"enabled": False}
    assert service.chart_values["ingress"] == {"enabled": False}
    assert service.exposure.hosts == ()


def test_model_names_resolve_against_the_environment_mirror(tmp_path: Path) -> None:
    lock: dict[str, LockedModel] = {
        "mirror.internal.example:5000/library/phi:latest": pin(
            "mirror.internal.example:5000/library/phi:latest",
            "ab",
            weights=2 * 2**30,
            registry="http://mirror.internal.example:5000",
        ),
        "registry.ollama.ai/library/qwen:7b": pin(
            "registry.ollama.ai/library/qwen:7b", "cd", weights=5 * 2**30
        ),
    }
    result, report = plan(
        tmp_path,
        {
            "locked/ml/svc.yaml": leaf(
                "models: [phi, registry.ollama.ai/library/qwen:7b]\n"
                "container: {resources: {requests: {memory: 6Gi}}}\n",
                environment="locked",
            )
        },
        lock,
    )
    assert report.ok, report.format_text()
    assert result.plans[0].chart_values["models"] == [
        {
            "name": "mirror.internal.example:5000/library/phi:latest",
            "digest": "ab" * 32,
            "insecure": True,
            "embedding": False,
        },
        {"name": "qwen:7b", "digest": "cd" * 32, "insecure": False, "embedding": False},
    ]


def test_memory_request_below_the_locked_weights_is_an_error(tmp_path: Path) -> None:
    lock = {
        "registry.ollama.ai/library/big:70b": pin(
            "registry.ollama.ai/library/big:70b", "ef", weights=39 * 2**30, total=40 * 2**30
        )
    }
    body = "model: big:70b\ncontainer: {resources: {limits: {memory: 48Gi}}}\n"
    _, report = plan(tmp_path, {"dev/ml/svc.yaml": leaf(body)}, lock)
    assert report.format_text() == (
        "catalog/dev/ml/svc.yaml:6:8: error: $.model: cache.size 20Gi is less than the 40.0GiB "
        "the service's models download (model lock): the pull runs out of space\n"
        "catalog/dev/ml/svc.yaml:6:8: error: $.model: requests.memory 2Gi is less than the "
        "39.0GiB of weights of big:70b (model lock): the model cannot load (set "
        "container.resources.requests.memory above it, or resourcesPreset: auto)\n"
    )


def test_chart_values_are_overlaid_last_and_null_deletes_a_chart_default(tmp_path: Path) -> None:
    service = only_plan(
        tmp_path,
        "model: phi\ncontainer: {replicas: 1}\n"
        "chartValues: {replicaCount: 2, resources: {limits: {memory: null}}}\n",
    )
    assert service.chart_values["replicaCount"] == 2
    assert service.chart_values["resources"]["limits"] == {"memory": None}
    assert service.replicas == 2
    assert "memory" not in service.resources["limits"]


def test_effective_replicas_from_chart_values_count_against_the_gpu_budget(
    tmp_path: Path,
) -> None:
    _, report = plan(
        tmp_path,
        {"dev/ml/svc.yaml": leaf("model: phi\ngpu: {count: 1}\nchartValues: {replicaCount: 5}\n")},
    )
    assert report.format_text().startswith(
        "catalog/environments/dev.yaml:10:11: error: $.gpu.budget: services of environment "
        "'dev' request 5 GPUs"
    )


HAMI = "chartValues: {{replicaCount: {replicas}, gpu: {{resourceName: {name}{extra}}}}}\n"


@pytest.mark.parametrize(
    ("name", "extra", "replicas", "over"),
    [
        ("nvidia.com/gpumem", ", extraResources: {nvidia.com/gpu: 1}", 4, None),
        ("nvidia.com/gpumem", ", extraResources: {nvidia.com/gpu: 1}", 5, 5),
        ("nvidia.com/gpumem", ', extraResources: {nvidia.com/gpu: "2"}', 3, 6),
        ("nvidia.com/gpumem-percentage", "", 50, None),
        ("nvidia.com/gpucores", ", extraResources: {nvidia.com/gpumem: 8000}", 50, None),
        ("amd.com/gpu", "", 5, 40_000),
    ],
    ids=["hami-within", "hami-over", "hami-two-vgpus", "percent", "cores", "device"],
)
def test_gpu_budget_counts_devices_never_memory_or_cores(
    tmp_path: Path, name: str, extra: str, replicas: int, over: int | None
) -> None:
    body = "model: phi\ngpu: {count: 8000}\n" + HAMI.format(
        replicas=replicas, name=name, extra=extra
    )
    _, report = plan(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    budget = [line for line in report.format_text().splitlines() if "$.gpu.budget" in line]
    if over is None:
        assert budget == []
    else:
        (line,) = budget
        assert f"request {over} GPUs" in line


@pytest.mark.parametrize(
    ("owner", "team"),
    [
        ("owner: group:default/ml-platform\n", "ml-platform"),
        ("owner: user:jane.doe\n", "jane.doe"),
        ("owner: support-team\n", "support-team"),
    ],
)
def test_cost_labels_name_the_owner_the_catalog_and_the_environment(
    tmp_path: Path, owner: str, team: str
) -> None:
    service = only_plan(tmp_path, "model: phi\n" + owner)
    assert service.chart_values["costLabels"] == {
        "team": team,
        "service": "ml-inference",
        "environment": "dev",
    }


def test_cost_labels_without_an_owner_name_no_team(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf("model: phi\n")})
    without_owner(catalog)
    report = Report()
    (service,) = plan_catalog(catalog, "catalog", chart(), report).plans
    assert report.ok, report.format_text()
    assert service.chart_values["costLabels"] == {"service": "ml-inference", "environment": "dev"}


def test_validate_files_keeps_only_their_problems_but_counts_their_neighbours(
    tmp_path: Path,
) -> None:
    catalog = make_catalog(
        tmp_path,
        {
            "dev/ml/a.yaml": leaf(
                "model: phi\ningress: {enabled: true, host: x.example.com}\n", name="a"
            ),
            "dev/ml/b.yaml": leaf(
                "model: phi\ningress: {enabled: true, host: x.example.com}\n", name="b"
            ),
            "dev/ml/broken.yaml": leaf("model: phi\ncolour: red\n", name="broken"),
        },
    )
    report = Report()
    plan_catalog(catalog, "catalog", chart(), report, only=[catalog / "dev/ml/b.yaml"])
    assert [problem.path for problem in report.sorted()] == ["catalog/dev/ml/b.yaml"]


def test_coalesce_follows_helm_and_overlay_keeps_nulls() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 3}
    assert coalesce(base, {"a": {"b": None, "x": 9}, "d": [3], "e": None}) == {
        "a": {"c": 2, "x": 9},
        "d": [3],
    }
    assert overlay(base, {"a": {"b": None}}) == {"a": {"b": None, "c": 2}, "d": [1, 2], "e": 3}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 3}


KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", ""]))
VALUES = st.recursive(
    SCALARS | st.lists(st.integers(0, 2), max_size=2),
    lambda inner: st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
MAPPINGS = st.dictionaries(KEYS, VALUES, max_size=5)


@settings(max_examples=300, deadline=None)
@given(base=MAPPINGS, before=MAPPINGS, changes=MAPPINGS, keep=st.sets(KEYS))
def test_coalesce_again_is_coalesce_key_order_included(
    base: dict[str, Any], before: dict[str, Any], changes: dict[str, Any], keep: set[str]
) -> None:
    """Values a little different from values already coalesced (some top-level values the
    very same objects, others replaced, added, nulled or reordered) coalesce as coalesce does,
    and in the same key order, at every level."""
    override = {key: value for key, value in before.items() if key in keep}
    override.update(changes)
    again = coalesce_again(base, override, before, coalesce(base, before))
    fresh = coalesce(base, override)
    assert repr(again) == repr(fresh)  # repr: key order at every level, and 1 is not True


def test_coalesce_again_reuses_what_did_not_change() -> None:
    base = {"a": {"x": 1}, "b": {"y": 2}}
    before = {"a": {"x": 3}, "b": {"z": 4}}
    merged = coalesce(base, before)
    again = coalesce_again(base, {**before, "b": {"z": 5}, "c": 6}, before, merged)
    assert again["a"] is merged["a"]  # not coalesced again
    assert again == {"a": {"x": 3}, "b": {"y": 2, "z": 5}, "c": 6}


def test_a_value_known_valid_is_not_judged_again_by_the_fast_verdict() -> None:
    contract = ChartContract.load(CHART)
    assert contract.fast is not None
    valid = contract.effective({"replicaCount": 2})
    invalid = {**valid, "replicaCount": "two"}
    assert contract.fast(valid)
    assert not contract.fast(invalid)
    assert not contract.fast(invalid, valid)  # a changed value is judged
    # The very object of a valid instance is taken as valid (it is not judged again): only
    # ever given values found valid, which is what plan_service gives.
    assert contract.fast(valid, valid)


@pytest.mark.parametrize("missing", ["values.yaml", "values.schema.json"])
def test_chart_contract_needs_both_files(tmp_path: Path, missing: str) -> None:
    from catalog_gen.check.chart_contract import ChartContractError

    for name in ("values.yaml", "values.schema.json"):
        if name != missing:
            (tmp_path / name).write_text((CHART / name).read_text())
    with pytest.raises(ChartContractError, match="cannot read the chart"):
        ChartContract.load(tmp_path)


def test_a_chart_schema_that_is_not_a_json_schema_is_refused_in_words(tmp_path: Path) -> None:
    from catalog_gen.check.chart_contract import ChartContractError

    schema = chart_schema()
    schema["properties"]["replicaCount"]["minimum"] = "one"
    with pytest.raises(ChartContractError, match="is not a valid JSON schema: 'one' is not of"):
        ChartContract.load(chart_with_schema(tmp_path, schema))


def test_a_chart_pattern_pythons_re_cannot_compile_is_refused_at_load(tmp_path: Path) -> None:
    """jsonschema-rs compiles `\\p{L}`; python-jsonschema (loaded only for an invalid verdict)
    would refuse the schema: refused before any leaf, in its words."""
    from catalog_gen.check.chart_contract import ChartContractError

    schema = chart_schema()
    schema["properties"]["replicaCount"]["pattern"] = "^\\p{L}+$"
    with pytest.raises(ChartContractError, match="is not a 'regex'"):
        ChartContract.load(chart_with_schema(tmp_path, schema))


def test_rules_across_values_are_judged_in_the_schemas_own_draft(tmp_path: Path) -> None:
    """The root allOf is judged apart, with the schema's $schema: a draft-07 keyword (items as a
    list) in it is not read as draft 2020-12, where it is not a valid schema."""
    schema = chart_schema()
    schema["allOf"].append({"items": [{}], "properties": {"replicaCount": {"maximum": 3}}})
    contract = ChartContract.load(chart_with_schema(tmp_path, schema))
    assert contract.per_key
    assert type(contract.cross_validator) is type(contract.validator)
    errors = contract.errors(contract.effective({"replicaCount": 5}))
    assert [(error.validator, error.message) for error in errors] == [
        ("maximum", "5 is greater than the maximum of 3")
    ]


def test_python_jsonschema_is_loaded_only_for_the_words_of_an_invalid_verdict() -> None:
    """Its import and schema check cost every run a tenth of a second: valid values never
    need it (jsonschema-rs judges), errors do (it words them)."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from catalog_gen.check.chart_contract import ChartContract\n"
        f"contract = ChartContract.load(Path({str(CHART)!r}))\n"
        "assert contract.errors(contract.effective({'replicaCount': 2})) == []\n"
        "assert 'jsonschema' not in sys.modules\n"
        "errors = contract.errors(contract.effective({'replicaCount': -1}))\n"
        "assert [error.validator for error in errors] == ['minimum'], errors\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr


def test_chart_contract_checks_changed_values_even_after_caching(tmp_path: Path) -> None:
    contract = ChartContract.load(CHART)
    assert contract.per_key
    good = contract.effective({"replicaCount": 2, "gpu": {"count": 1}})
    assert contract.errors(good) == []
    assert contract.errors(good) == []  # served from the cache
    bad = contract.effective({"replicaCount": 2, "gpu": {"count": -1}, "bogus": 1})
    assert sorted(str(error.validator) for error in contract.errors(bad)) == [
        "additionalProperties",
        "minimum",
    ]


def test_chart_contract_falls_back_to_whole_validation_for_cross_key_schemas(
    tmp_path: Path,
) -> None:
    schema = chart_schema()
    schema["required"] = ["mustExist"]
    contract = ChartContract.load(chart_with_schema(tmp_path, schema))
    assert not contract.per_key
    assert [error.validator for error in contract.errors(contract.effective({}))] == ["required"]


def test_model_missing_from_the_lock_is_a_warning_outside_require_lock(
    tmp_path: Path,
) -> None:
    result, report = plan(tmp_path, {"dev/ml/svc.yaml": leaf("model: phi\n")}, lock={})
    assert report.ok
    assert len(result.plans) == 1
    assert result.plans[0].chart_values["models"][0]["digest"] == ""
    assert report.format_text() == (
        "catalog/dev/ml/svc.yaml:6:8: warning: $.model: model phi:latest is not pinned in "
        'catalog/models.lock.yaml: it deploys unpinned (digest "") (run `catalog-gen lock`; '
        "required where requireLock: true)\n"
    )


def test_pin_resolved_over_another_scheme_counts_as_unpinned(tmp_path: Path) -> None:
    reference = "mirror.internal.example:5000/library/phi:latest"
    lock = {reference: pin(reference, "ab", registry="https://mirror.internal.example:5000")}
    result, report = plan(
        tmp_path, {"locked/ml/svc.yaml": leaf("model: phi\n", environment="locked")}, lock
    )
    assert result.plans == ()
    assert report.format_text() == (
        "catalog/locked/ml/svc.yaml:6:8: error: $.model: model mirror.internal.example:5000/"
        "library/phi:latest is pinned from https://mirror.internal.example:5000 but this "
        "environment pulls it over http://mirror.internal.example:5000, and environment "
        "'locked' requires every model to be (requireLock: true) (run `catalog-gen lock`)\n"
    )


def test_max_loaded_models_is_left_to_the_chart(tmp_path: Path) -> None:
    """Ollama keeps 3 models loaded by default; the chart raises OLLAMA_MAX_LOADED_MODELS past
    3 models itself (tests/chart/test_guardrails.py), so the generator no longer counts them."""
    four = "models: [phi, llama3, mistral, nomic-embed-text]\n"
    assert "maxLoadedModels" not in only_plan(tmp_path / "a", four).chart_values.get("ollama", {})
    explicit = four + "ollama: {maxLoadedModels: 6}\n"
    assert only_plan(tmp_path / "c", explicit).chart_values["ollama"]["maxLoadedModels"] == 6


def test_the_merge_layers_are_applied_in_the_documented_order() -> None:
    """docs/catalog-gen.md "Merge rules" lists plan/merge.py's layers in the order it applies
    them, with lock sizing (plan/service.py) between the environment defaults and the leaf."""
    section = (REPO_ROOT / "docs" / "catalog-gen.md").read_text(encoding="utf-8")
    section = section.split("## Merge rules", 1)[1].split("\n## ", 1)[0]
    items = [item.replace("`", "") for item in re.findall(r"^\d\. (.+)$", section, re.M)]
    named = [name for name, _ in CATALOG_LAYERS]
    positions = [
        next(index for index, item in enumerate(items) if item.startswith(name)) for name in named
    ]
    assert positions == sorted(positions), items
    assert len(set(positions)) == len(named), items
    sizing = next(index for index, item in enumerate(items) if item.startswith("lock sizing"))
    assert positions[0] < sizing < positions[1]
    assert [name for name, _ in OWN_LAYERS] == named[:-1]


def test_catalog_values_let_each_layer_override_the_ones_before() -> None:
    def layer(value: int) -> Callable[[MergeInputs], dict[str, Any]]:
        return lambda _inputs: {"a": {"b": value, f"only{value}": value}, "list": [value]}

    inputs = cast(MergeInputs, None)  # the layers here read nothing
    merged = catalog_values(inputs, [("one", layer(1)), ("two", layer(2))])
    assert merged == {"a": {"b": 2, "only1": 1, "only2": 2}, "list": [2]}


def test_real_paths_are_what_resolving_each_path_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate FILE` finds a FILE's leaf by real path: resolved a folder at a time, each path
    must still resolve as Path.resolve() does, through links to leaves and to folders, dangling
    links, `..`, relative and absolute paths (discover lists no looping link)."""
    (tmp_path / "shared" / "ml").mkdir(parents=True)
    (tmp_path / "shared" / "ml" / "a.yaml").write_text("a")
    (tmp_path / "shared" / "b.yaml").write_text("b")
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "linked").symlink_to(tmp_path / "shared" / "ml", target_is_directory=True)
    (dev / "plain").mkdir()
    (dev / "plain" / "c.yaml").write_text("c")
    (dev / "plain" / "b.yaml").symlink_to(tmp_path / "shared" / "b.yaml")
    (dev / "plain" / "relative.yaml").symlink_to(Path("..") / "linked" / "a.yaml")
    (dev / "plain" / "dangling.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "qa").symlink_to(dev, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    names = [
        "dev/linked/a.yaml",
        "qa/linked/a.yaml",
        "dev/plain/c.yaml",
        "qa/plain/c.yaml",
        "dev/plain/b.yaml",
        "dev/plain/relative.yaml",
        "dev/plain/dangling.yaml",
        "dev/plain/../linked/a.yaml",
        "dev/plain/../plain/./c.yaml",
        "c.yaml",
        "missing/x.yaml",
    ]
    paths = [Path(name) for name in names] + [tmp_path / name for name in names]
    assert _real_paths(paths) == [str(path.resolve()) for path in paths]


def test_a_zero_keep_alive_is_refused_at_the_leaf_line(tmp_path: Path) -> None:
    """Ollama takes a load with a zero keep-alive as an unload: the chart's schema refuses it,
    globally and per model, and catalog-gen says so at the line that set it."""
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf(
                "models:\n  - {name: phi, keepAlive: 0}\nollama: {keepAlive: 0s}\n"
            )
        },
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stderr
    errors = error_lines(outcome.stdout)
    assert [line.split(": error: ")[1].split(": '")[0] for line in errors] == [
        "$.models[0].name: chart value models[0].keepAlive",  # the model entry's line
        "$.ollama.keepAlive: chart value ollama.keepAlive",
    ]
    assert all("not zero" in line for line in errors)


def test_modelfile_text_ollamas_parser_would_drop_is_refused_at_the_field(
    tmp_path: Path,
) -> None:
    """Ollama's Modelfile parser keeps printable characters only (the chart's _validate.tpl):
    a no-break space in a leaf's system prompt would vanish from the model. catalog-gen says so
    at the system prompt, not at the derived models (the chart sees only the whole Modelfile)."""
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf(
                "model: phi\nderivedModels:\n  - name: terse\n    from: phi\n"
                '    system: "a\\u00a0b"\n'
            )
        },
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stderr
    (error,) = error_lines(outcome.stdout)
    assert error.startswith(
        "catalog/dev/ml/svc.yaml:10:13: error: $.derivedModels[0].system: "
        'system holds "\\u00a0", which Ollama\'s Modelfile parser drops silently'
    )


def test_a_whole_number_written_with_a_fraction_is_the_integer(tmp_path: Path) -> None:
    """JSON Schema's `integer`, which the published leaf schema says and editors check, takes
    1.0: so does catalog-gen, and the chart gets the integer; 1.5 stays an error."""
    service = only_plan(tmp_path, "model: phi\ngpu: {count: 1.0}\ncontainer: {replicas: 2.0}\n")
    assert (service.chart_values["gpu"]["count"], service.chart_values["replicaCount"]) == (1, 2)
    assert type(service.chart_values["replicaCount"]) is int
    half = {"dev/ml/svc.yaml": leaf("model: phi\ngpu: {count: 1.5}\n")}
    _, report = plan(tmp_path / "half", half)
    assert [problem.json_path for problem in report.errors] == ["$.gpu.count"]


@pytest.mark.parametrize(
    ("chart_values", "over"),
    [
        # The model-pull init container: the pod is scheduled for the larger of the two.
        ('pull: {resources: {requests: {nvidia.com/gpu: "3"}, limits: {nvidia.com/gpu: "3"}}}', 6),
        ('pull: {resources: {limits: {amd.com/gpu: "1"}}}', None),
        # Other GPU devices beside gpu.count, MIG slices included.
        ('gpu: {extraResources: {amd.com/gpu: "2"}}', 6),
        ('gpu: {extraResources: {nvidia.com/mig-3g.40gb: "1"}}', None),
        ('gpu: {extraResources: {nvidia.com/mig-3g.40gb: "2"}}', 6),
        # Not a GPU: no device counted.
        ('gpu: {extraResources: {rdma/hca_shared_devices_a: "4"}}', None),
        # The server's own resources, as the chart passes them through (gpu.count 0 below).
        ('gpu: {count: 0}, resources: {limits: {nvidia.com/gpu: "4"}}', 8),
        ('resources: {limits: {amd.com/gpu: "2"}}', 6),
        # extraResources under the counted name replaces gpu.count in the chart.
        ('gpu: {extraResources: {nvidia.com/gpu: "3"}}', 6),
        ('gpu: {extraResources: {nvidia.com/gpu.shared: "2"}}', 6),
        # The chart adds extraResources only with gpu.count above 0.
        ('gpu: {count: 0, extraResources: {amd.com/gpu: "4"}}', None),
    ],
    ids=[
        "pull-over",
        "pull-within",
        "extra-amd",
        "mig-within",
        "mig-over",
        "not-a-gpu",
        "resources-without-count",
        "resources-beside-count",
        "extra-replaces-count",
        "time-sliced",
        "extra-without-count",
    ],
)
def test_gpu_budget_counts_the_gpus_chart_values_add_to_a_pod(
    tmp_path: Path, chart_values: str, over: int | None
) -> None:
    """A leaf's chartValues cannot hold GPUs the budget does not see: two replicas of one GPU
    each fit the budget of 4 until the pod asks for more elsewhere."""
    body = "model: phi\ngpu: {count: 1}\ncontainer: {replicas: 2}\n"
    body += f"chartValues: {{{chart_values}}}\n"
    _, report = plan(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    budget = [line for line in report.format_text().splitlines() if "$.gpu.budget" in line]
    if over is None:
        assert budget == [], report.format_text()
    else:
        (line,) = budget
        assert f"request {over} GPUs (GPUs per pod x replicas)" in line


def test_values_from_leaf_fields_of_another_shape_know_their_leaf_node(tmp_path: Path) -> None:
    """value_origins: the route's hostnames come from ingress.host, its parentRefs from the
    leaf's gateway.parentRef when the leaf sets one (else the environment's: no origin)."""
    body = (
        "model: phi\ningress: {enabled: true, host: svc.dev.example.com}\n"
        "gateway: {parentRef: {name: other-gateway, namespace: gateway-system}}\n"
    )
    own = only_plan(tmp_path / "own", body)
    origins = value_origins(own.document, own.models, own.derived_models, own.exposure)
    assert origins[("httpRoute", "hostnames", 0)] == ("ingress", "host")
    assert origins[("httpRoute", "parentRefs")] == ("gateway", "parentRef")
    shared = only_plan(tmp_path / "shared", body.split("gateway:", maxsplit=1)[0])
    origins = value_origins(shared.document, shared.models, shared.derived_models, shared.exposure)
    assert ("httpRoute", "parentRefs") not in origins


INGRESS_ENVIRONMENT = (
    "environment: dev\nrouting: ingress\nbaseDomain: dev.example.com\n"
    "ingress: {className: nginx, tlsSecretName: dev-tls}\n"
)


@pytest.mark.parametrize(
    ("chart_values", "tls"),
    [
        ("", [{"secretName": "dev-tls", "hosts": ["a.dev.example.com"]}]),
        (
            "chartValues: {ingress: {hosts: [{host: a.dev.example.com}, "
            "{host: b.dev.example.com}]}}",
            [{"secretName": "dev-tls", "hosts": ["a.dev.example.com", "b.dev.example.com"]}],
        ),
        (
            "chartValues: {ingress: {hosts: [{host: b.dev.example.com}], "
            "tls: [{secretName: own, hosts: [b.dev.example.com]}]}}",
            [{"secretName": "own", "hosts": ["b.dev.example.com"]}],
        ),
    ],
    ids=["leaf-host", "chart-values-hosts", "chart-values-tls"],
)
def test_every_ingress_host_gets_the_environments_tls_secret(
    tmp_path: Path, chart_values: str, tls: list[dict[str, Any]]
) -> None:
    """Hosts chartValues give the Ingress keep the environment's tlsSecretName ("the TLS Secret
    of every host"): a host left out was served with the controller's default certificate."""
    body = f"model: phi\ningress: {{enabled: true, host: a.dev.example.com}}\n{chart_values}\n"
    result, report = plan(
        tmp_path, {"environments/dev.yaml": INGRESS_ENVIRONMENT, "dev/ml/svc.yaml": leaf(body)}
    )
    assert report.ok, report.format_text()
    (service,) = result.plans
    assert service.chart_values["ingress"]["tls"] == tls


def test_an_ingress_only_chart_values_give_gets_the_environments_settings(tmp_path: Path) -> None:
    """A leaf that is not exposed, whose chartValues turn an Ingress on with hosts: the
    environment's TLS Secret, class and annotations, as an exposed leaf's Ingress gets them
    (review: plain HTTP, the default class, no read timeout)."""
    environment = INGRESS_ENVIRONMENT.replace(
        "tlsSecretName: dev-tls}", 'tlsSecretName: dev-tls, annotations: {t: "600"}}'
    )
    body = (
        "model: phi\nchartValues: {ingress: {enabled: true, hosts: [{host: b.dev.example.com}]}}\n"
    )
    result, report = plan(
        tmp_path, {"environments/dev.yaml": environment, "dev/ml/svc.yaml": leaf(body)}
    )
    assert report.ok, report.format_text()
    (service,) = result.plans
    assert service.chart_values["ingress"] == {
        "enabled": True,
        "hosts": [{"host": "b.dev.example.com"}],
        "className": "nginx",
        "annotations": {"t": "600"},
        "tls": [{"secretName": "dev-tls", "hosts": ["b.dev.example.com"]}],
    }
    # Hosts of an Ingress left off: nothing of the environment's is added to them.
    off = body.replace("enabled: true, ", "")
    result, report = plan(
        tmp_path / "off", {"environments/dev.yaml": environment, "dev/ml/svc.yaml": leaf(off)}
    )
    assert report.ok, report.format_text()
    (service,) = result.plans
    assert service.chart_values["ingress"] == {
        "enabled": False,
        "hosts": [{"host": "b.dev.example.com"}],
    }


def test_the_environments_ingress_annotations_reach_every_ingress(tmp_path: Path) -> None:
    """ingress.annotations of the environment (a read timeout for every service), under the
    leaf's chartValues.ingress.annotations, key by key."""
    environment = INGRESS_ENVIRONMENT.replace(
        "tlsSecretName: dev-tls}",
        'tlsSecretName: dev-tls, annotations: {a.example.com/timeout: "600", b: "1"}}',
    )
    body = (
        "model: phi\ningress: {enabled: true, host: a.dev.example.com}\n"
        'chartValues: {ingress: {annotations: {b: "2"}}}\n'
    )
    result, report = plan(
        tmp_path, {"environments/dev.yaml": environment, "dev/ml/svc.yaml": leaf(body)}
    )
    assert report.ok, report.format_text()
    (service,) = result.plans
    assert service.chart_values["ingress"]["annotations"] == {
        "a.example.com/timeout": "600",
        "b": "2",
    }


def test_an_environment_annotation_the_chart_refuses_is_reported_once_at_its_key(
    tmp_path: Path,
) -> None:
    environment = INGRESS_ENVIRONMENT.replace(
        "tlsSecretName: dev-tls}", 'tlsSecretName: dev-tls, annotations: {"bad key": "x"}}'
    )
    body = "model: phi\ningress: {enabled: true, host: a.dev.example.com}\n"
    files = {"environments/dev.yaml": environment}
    files.update({f"dev/ml/svc{index}.yaml": leaf(body, name=f"svc{index}") for index in range(2)})
    _, report = plan(tmp_path, files)
    errors = [line for line in report.format_text().splitlines() if ": error: " in line]
    assert len(errors) == 1, errors  # not again at each leaf
    assert errors[0].startswith(
        'catalog/environments/dev.yaml:4:67: error: $.ingress.annotations["bad key"]: chart '
        "value ingress.annotations: key 'bad key' "
    ), errors
