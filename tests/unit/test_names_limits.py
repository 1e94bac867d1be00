"""catalog-gen: names Helm or Kubernetes would refuse later, collisions between the services of
one namespace, and the chart's bounds on the lists a leaf generates (located at the leaf)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli


def test_service_name_over_the_helm_release_limit_is_an_error(tmp_path: Path) -> None:
    long_name = "a" * 54
    make_catalog(tmp_path, {f"dev/ml/{long_name}.yaml": leaf(name=long_name)})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1
    errors = error_lines(outcome.stdout)
    assert any("$.serviceName" in line and "at most 53" in line for line in errors), errors


def test_service_name_at_the_helm_release_limit_is_accepted(tmp_path: Path) -> None:
    name = "a" * 53
    make_catalog(tmp_path, {f"dev/ml/{name}.yaml": leaf(name=name)})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 0, outcome.stdout


def test_a_service_named_like_anothers_headless_service_is_an_error_at_both(
    tmp_path: Path,
) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf("model: phi\ncache: {mode: perReplica}\n"),
            "dev/ml/svc-headless.yaml": leaf(name="svc-headless"),
        },
    )
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1
    errors = error_lines(outcome.stdout)
    assert len(errors) == 2, errors
    first, second = sorted(errors)
    assert first.startswith("catalog/dev/ml/svc-headless.yaml:2:")
    assert "$.serviceName" in first
    assert "Service svc-headless" in first
    assert "service ml/svc (catalog/dev/ml/svc.yaml)" in first
    assert second.startswith("catalog/dev/ml/svc.yaml:2:")
    assert "service ml/svc-headless" in second


def test_two_services_with_one_full_name_are_an_error_at_the_override(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/one.yaml": leaf(name="one"),
            "dev/ml/two.yaml": leaf(
                "model: phi\nchartValues: {fullnameOverride: one}\n", name="two"
            ),
        },
    )
    outcome = run_cli(tmp_path, "validate")
    errors = error_lines(outcome.stdout)
    assert outcome.code == 1
    assert any(
        line.startswith("catalog/dev/ml/two.yaml:7:") and "$.chartValues.fullnameOverride" in line
        for line in errors
    ), errors
    assert any(line.startswith("catalog/dev/ml/one.yaml:2:") for line in errors), errors
    assert all("Deployment one" in line and "Service one" in line for line in errors)


def test_same_names_in_different_namespaces_do_not_collide(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf("model: phi\ncache: {mode: perReplica}\n"),
            "dev/other/svc-headless.yaml": leaf(name="svc-headless", namespace="other"),
        },
    )
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 0, outcome.stdout


def test_long_names_sharing_a_prefix_do_not_collide(tmp_path: Path) -> None:
    # Cut to the StatefulSet's 52 characters without a hash, these two would be one name.
    one, two = "s" * 52 + "a", "s" * 52 + "b"
    body = "model: phi\ncache: {mode: perReplica}\n"
    make_catalog(
        tmp_path,
        {f"dev/ml/{one}.yaml": leaf(body, name=one), f"dev/ml/{two}.yaml": leaf(body, name=two)},
    )
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 0, outcome.stdout


def test_more_models_than_the_chart_accepts_is_located_at_the_leaf_models(
    tmp_path: Path,
) -> None:
    models = "".join(f"  - m{index}:latest\n" for index in range(101))
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"models:\n{models}")})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1
    errors = error_lines(outcome.stdout)
    assert errors == [
        "catalog/dev/ml/svc.yaml:7:3: error: $.models: chart value models: has 101 items, at "
        "most 100 are allowed"
    ]


def test_as_many_models_as_the_chart_accepts_is_valid(tmp_path: Path) -> None:
    models = "".join(f"  - m{index}:latest\n" for index in range(100))
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"models:\n{models}")})
    outcome = run_cli(tmp_path, "validate")
    assert error_lines(outcome.stdout) == []


def test_a_derived_model_over_the_modelfile_bound_is_located_at_that_model(
    tmp_path: Path,
) -> None:
    body = (
        "model: phi\nderivedModels:\n  - {name: short, from: phi, system: hi}\n"
        f"  - {{name: long, from: phi, system: {'x' * 8200}}}\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate")
    errors = error_lines(outcome.stdout)
    assert len(errors) == 1, errors
    assert errors[0].startswith("catalog/dev/ml/svc.yaml:9:")
    assert (
        "chart value derivedModels[1].modelfile: is 8230 characters long, at most 8192"
        in (errors[0])
    )


def test_more_hostnames_than_an_httproute_accepts_is_located_at_the_leaf(tmp_path: Path) -> None:
    hosts = ", ".join(f"h{index}.example.com" for index in range(16))
    body = f"model: phi\ningress: {{enabled: true}}\ngateway: {{additionalHostnames: [{hosts}]}}\n"
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate")
    errors = error_lines(outcome.stdout)
    assert len(errors) == 1, errors
    assert "$.gateway.additionalHostnames" in errors[0]
    assert "httpRoute.hostnames: has 17 items, at most 16" in errors[0]
