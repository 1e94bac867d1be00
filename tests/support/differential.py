"""catalog-gen against helm: the cases, and who accepts which (tests/e2e and bench/differential.py).

The invariant (docs/interfaces.md, "Who owns which rule"): when catalog-gen accepts a leaf, helm
renders its values, and the API server's own validation (tools/apiserver-validate) accepts what
helm rendered. Cases are drawn, seeded, from the chart's own values.yaml and
values.schema.json: every integer at its boundaries, every enum value, every boolean, access-mode
lists, extraEnv entries naming each variable the chart sets (read from a default render), and
combinations of two or three. Each case goes into the proof of concept's leaf as `chartValues`,
and where a leaf field maps to the chart value (container.replicas, cache, ollama, gpu), through
that field as well. A whole sample is one catalog (one service per case), so catalog-gen judges
it in one run, with one helm batch for the chart's template rules.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.diff.render import chart_api_versions
from catalog_gen.plan.pipeline import plan_catalog
from catalog_gen.problems import Report, Severity
from tools.kube_validate import apiserver_errors

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
POC_LEAF = REPO_ROOT / "catalog" / "dev" / "ml-workloads" / "ollama-phi.yaml"
DEV_ENVIRONMENT = REPO_ROOT / "catalog" / "environments" / "dev.yaml"
HELMS = ("3.19.0", "4.3.1")
ACCESS_MODES: tuple[list[str], ...] = (
    [],
    ["ReadWriteOnce"],
    ["ReadWriteMany"],
    ["ReadOnlyMany"],
    ["ReadWriteOncePod"],
    ["ReadOnlyMany", "ReadWriteOnce"],
    ["ReadWriteMany", "ReadOnlyMany"],
)
# Leaf fields that set a chart value (docs/interfaces.md section 1), chart path -> leaf path.
LEAF_FIELDS: Mapping[tuple[str, ...], tuple[str, ...]] = {
    ("replicaCount",): ("container", "replicas"),
    ("gpu", "count"): ("gpu", "count"),
    ("cache", "mode"): ("cache", "mode"),
    ("cache", "accessModes"): ("cache", "accessModes"),
    ("cache", "existingClaim"): ("cache", "existingClaim"),
    ("ollama", "maxLoadedModels"): ("ollama", "maxLoadedModels"),
    ("ollama", "numParallel"): ("ollama", "numParallel"),
    ("ollama", "contextLength"): ("ollama", "contextLength"),
    # A leaf's autoscaling block turns autoscaling on (the environment's engine applies).
    ("autoscaling", "minReplicas"): ("autoscaling", "minReplicas"),
    ("autoscaling", "maxReplicas"): ("autoscaling", "maxReplicas"),
    ("autoscaling", "scaleToZero", "afterIdle"): ("autoscaling", "scaleToZero", "afterIdle"),
}

Mutation = tuple[tuple[str, ...], Any]


@dataclass(frozen=True)
class Case:
    mutations: tuple[Mutation, ...]
    through_leaf: bool  # set through the leaf fields where one maps, else chartValues

    def chart_values(self) -> dict[str, Any]:
        """The case as values given to helm directly."""
        values: dict[str, Any] = {"models": [{"name": "phi:latest"}]}
        for path, value in self.mutations:
            _set(values, path, value)
        return values

    def leaf(self, index: int) -> dict[str, Any]:
        leaf: dict[str, Any] = dict(yaml.safe_load(POC_LEAF.read_text(encoding="utf-8")))
        leaf["serviceName"] = f"case-{index}"
        leaf["namespace"] = f"ns-{index}"
        leaf["ingress"] = {"enabled": True, "host": f"case-{index}.hypermedia.au"}
        chart_values: dict[str, Any] = {}
        for path, value in self.mutations:
            target = LEAF_FIELDS.get(path) if self.through_leaf else None
            _set(leaf if target else chart_values, target or path, value)
        if chart_values:
            leaf["chartValues"] = chart_values
        return leaf


@dataclass
class Verdicts:
    """Who accepted each case: catalog-gen, each helm on the values catalog-gen wrote, and the
    API server's own validation (tools/apiserver-validate) on what the first helm rendered."""

    generator: list[bool] = field(default_factory=list)
    helm: dict[str, list[bool | None]] = field(default_factory=dict)  # None: not rendered
    # The API server's refusals of each rendered case ([] accepted; None: not rendered).
    apiserver: list[list[str] | None] = field(default_factory=list)

    def disagreements(self) -> list[int]:
        """Cases catalog-gen accepted and a helm, or the API server, refused."""
        return [
            index
            for index, accepted in enumerate(self.generator)
            if accepted
            and (
                any(verdicts[index] is False for verdicts in self.helm.values())
                or bool(self.apiserver[index])
            )
        ]


def _set(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def chart_env_names(helm: Path) -> list[str]:
    """Every environment variable the chart sets in its pods (from a default render)."""
    rendered = subprocess.run(
        [str(helm), "template", "r", str(CHART), "--set", "models[0].name=phi"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names: set[str] = set()
    for document in yaml.safe_load_all(rendered):
        spec = ((document or {}).get("spec") or {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            names.update(item["name"] for item in container.get("env", []))
    return sorted(names)


def single_mutations(env_names: Sequence[str]) -> list[Mutation]:
    """One change each: schema boundaries, enums, booleans, access modes, extraEnv names."""
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    mutations: list[Mutation] = []
    for path, node in _leaves(schema, schema, defaults, ()):
        mutations += [(path, value) for value in _values(node)]
    mutations += [(("cache", "accessModes"), modes) for modes in ACCESS_MODES]
    mutations += [(("extraEnv",), [{"name": name, "value": "1"}]) for name in env_names]
    mutations.append((("extraEnv",), [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]))
    mutations += [(("models",), [{"name": name} for name in "abcd"[:count]]) for count in (2, 4)]
    mutations.append((("probes", "liveness", "timeoutSeconds"), 1))
    return mutations


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target: Any = schema
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _leaves(
    schema: Mapping[str, Any], node: Mapping[str, Any], default: Any, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """(path, schema) of every scalar value values.yaml sets, through nested objects."""
    node = _resolve(schema, node)
    if isinstance(default, dict):
        for key, value in default.items():
            child = node.get("properties", {}).get(key)
            if child is not None:
                yield from _leaves(schema, child, value, (*path, key))
    elif not isinstance(default, list):
        yield path, node


def _values(node: Mapping[str, Any]) -> list[Any]:
    types = node.get("type")
    if "enum" in node:
        return list(node["enum"])
    if types == "boolean":
        return [True, False]
    if types == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        values = [0, 1, 2, 3, 5, 7]
        if low is not None:
            values += [low - 1, low, low + 1]
        if high is not None:
            values += [high - 1, high, high + 1]
        return sorted(set(values))
    if types == "string" and node.get("pattern", "").startswith("^$|"):
        return ["", "x"]
    return []


def draw_cases(env_names: Sequence[str], count: int, seed: int) -> list[Case]:
    """count cases, seeded: singles first (in a seeded order), then pairs and triples."""
    rng = random.Random(seed)
    singles = single_mutations(env_names)
    rng.shuffle(singles)
    cases: list[Case] = []
    for index in itertools.count():
        if len(cases) >= count:
            break
        if index < len(singles) and index < count // 2:
            mutations: tuple[Mutation, ...] = (singles[index],)
        else:
            picked = rng.sample(singles, rng.choice((2, 3)))
            if len({path for path, _ in picked}) < len(picked):
                continue
            mutations = tuple(picked)
        cases.append(Case(mutations, through_leaf=rng.random() < 0.5))
    return cases


def judge(
    cases: Sequence[Case],
    helms: Mapping[str, Path],
    workers: int = 2,
    crd_dir: Path | None = None,
) -> Verdicts:
    """catalog-gen on all cases at once, then each helm on every accepted case's values, and the
    API server's validation on what the first helm rendered (with crd_dir: the custom resources
    too, from the CRDs there)."""
    with tempfile.TemporaryDirectory(prefix="differential-") as temporary:
        root = Path(temporary)
        catalog = _write_catalog(root, cases)
        report = Report()
        planned = plan_catalog(catalog, "catalog", ChartContract.load(CHART), report)
        refused = {
            problem.path for problem in report.problems if problem.severity is Severity.ERROR
        }
        values_files: dict[int, Path] = {}
        for plan in planned.plans:
            index = int(plan.service_name.removeprefix("case-"))
            if f"catalog/dev/ns-{index}/case-{index}.yaml" not in refused:
                values_files[index] = root / f"values-{index}.yaml"
                values_files[index].write_text(yaml.safe_dump(dict(plan.chart_values)))
        verdicts = Verdicts(generator=[index in values_files for index in range(len(cases))])
        texts: dict[int, str] = {}
        for version, helm in helms.items():
            with ThreadPoolExecutor(max_workers=workers) as pool:
                rendered = dict(
                    zip(
                        values_files,
                        pool.map(
                            lambda path, helm=helm: rendering(helm, path), values_files.values()
                        ),
                        strict=True,
                    )
                )
            verdicts.helm[version] = [
                None if index not in rendered else rendered[index] is not None
                for index in range(len(cases))
            ]
            if not texts:
                texts = {index: text for index, text in rendered.items() if text is not None}
        judged = apiserver_errors(list(texts.values()), crd_dir=crd_dir)
        refusals = dict(zip(texts, judged, strict=True))
        verdicts.apiserver = [refusals.get(index) for index in range(len(cases))]
    return verdicts


def _write_catalog(root: Path, cases: Sequence[Case]) -> Path:
    catalog = root / "catalog"
    environment = yaml.safe_load(DEV_ENVIRONMENT.read_text(encoding="utf-8"))
    environment["gpu"].pop("budget", None)  # one catalog of many cases, not one cluster
    (catalog / "environments").mkdir(parents=True)
    (catalog / "environments" / "dev.yaml").write_text(yaml.safe_dump(environment))
    for index, case in enumerate(cases):
        path = catalog / "dev" / f"ns-{index}" / f"case-{index}.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(case.leaf(index), sort_keys=False))
    return catalog


# The cluster's capabilities are the templates' to judge, not catalog-gen's (docs/interfaces.md
# section 3): helm renders as on a cluster that serves every API a values rule can turn on.
CLUSTER_APIS = chart_api_versions(CHART)


def rendering(helm: Path, values: Path) -> str | None:
    """helm template's output for values; None when helm refuses them."""
    command = [str(helm), "template", "r", str(CHART), "--values", str(values)]
    for api in CLUSTER_APIS:
        command += ["--api-versions", api]
    found = subprocess.run(command, capture_output=True, text=True, check=False)
    return found.stdout if found.returncode == 0 else None


def renders(helm: Path, values: Path) -> bool:
    return rendering(helm, values) is not None


def helm_paths() -> dict[str, Path]:
    return {version: REPO_ROOT / ".tools" / "helm" / version / "helm" for version in HELMS}
