"""The incremental render (catalog_gen.cache) gives exactly what a cold render gives.

A randomized sequence of edits (leaves edited, added and deleted, environments changed, the
lock pinned and unpinned, the chart's values.yaml and values.schema.json changed) is applied to
one catalog; after each, render and validate with the cache must print and write byte for byte
what they print and write with --no-cache (render with the cache hard-links the files it wrote
before and still means, catalog_gen.write.written), and check with the cache must find it up to
date. A corrupt or foreign cache never changes the output.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_gen import cache
from catalog_gen.cache import CACHE_DIR, PACK_PREFIX, PACK_SUFFIX, LeafCache
from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.digests import digest_of
from catalog_gen.emit import argocd
from catalog_gen.lock.lockfile import load_lock, serialize_lock
from catalog_gen.lock.model import LockedModel, ModelLock
from catalog_gen.plan import fresh, pipeline
from catalog_gen.plan.across import check_across_leaves, leaf_facts
from catalog_gen.plan.leaf import plan_leaf
from catalog_gen.plan.parallel import chunked_map
from catalog_gen.plan.pipeline import CatalogPlan, plan_catalog
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Problem, Report
from catalog_gen.write import written
from catalog_gen.write.writer import read_tree, write_tree
from catalog_gen.write.written import WriteRecord
from tests.conftest import REPO_ROOT
from tests.unit.helpers import (
    CHART,
    Outcome,
    helm_runs,
    make_catalog,
    run_cli,
    working_directory,
    written_aside,
)
from tests.unit.helpers import leaf as leaf_text

ENVIRONMENTS = ("dev", "prod")
MODELS = ("phi:latest", "llama3.2:3b", "nomic-embed-text")
CANONICAL = {
    "phi:latest": "registry.ollama.ai/library/phi:latest",
    "llama3.2:3b": "registry.ollama.ai/library/llama3.2:3b",
    "nomic-embed-text": "registry.ollama.ai/library/nomic-embed-text:latest",
}


def environment(name: str, variant: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "environment": name,
        "owner": "group:ml-platform",
        "baseDomain": f"{name}{variant % 2}.example.com",
        "gateway": {"parentRef": {"name": "gw", "namespace": "gateway-system"}},
        "gpu": {"types": [{"name": "l4", "memory": "24Gi"}], "defaultType": "l4"},
        "defaults": {"resources": {"limits": {"memory": f"{8 + variant % 3}Gi"}}},
        "argocd": {
            "repoURL": "https://github.com/example-org/ollama-inference-load.git",
            "chart": {"path": "charts/ollama-inference-load"},
        },
    }
    if variant % 3 == 1:
        data["gpu"]["budget"] = 2
    if variant % 4 == 3:
        data["requireLock"] = True
    if variant % 5 == 2:  # autoscaled leaves count maxReplicas, the Argo CD files change
        data["autoscaling"] = {
            "engine": "keda-http",
            "kedaHttp": {"interceptorNamespace": "keda-addons", "interceptorPort": 8080},
        }
    if variant % 6 == 4:
        data["argocd"]["namespacePrefix"] = f"{name}-"
    if variant % 7 == 5:  # no owner: a warning at each leaf that names none
        del data["owner"]
    return data


def leaf(env: str, namespace: str, name: str, variant: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "workloadType": "OLLAMA_INFERENCE_LOAD",
        "serviceName": name,
        "serviceCatalog": "ml-inference",
        "namespace": namespace,
        "environment": env,
        "model": MODELS[variant % len(MODELS)],
        "gpu": {"count": variant % 2},
        "ingress": {"enabled": True, "host": f"h{variant % 4}.example.com"},
        "container": {"replicas": 1 + variant % 2},
    }
    if variant % 5 == 4:
        data["container"]["resources"] = {"requests": {"memory": "64Gi"}}  # above the limit
    if variant % 7 == 6:
        data["resourcesPreset"] = "auto"
    if variant % 6 == 5:  # one single-attach claim shared by several services: a clash
        data["cache"] = {
            "mode": "sharedPVC",
            "existingClaim": "models",
            "accessModes": ["ReadWriteOnce"],
        }
        data["container"]["replicas"] = 1
    if variant % 8 == 7:  # autoscaled (an error where the environment does not autoscale)
        data["autoscaling"] = {"maxReplicas": 3, "target": {"requestRate": 5}}
        del data["container"]["replicas"]  # KEDA owns the count
    if variant % 9 == 8:
        data["owner"] = "group:default/leaf-team"
    return data


def lock_text(pinned: set[str]) -> str:
    pins = {
        CANONICAL[model]: LockedModel(
            reference=CANONICAL[model],
            registry="https://registry.ollama.ai",
            digest=f"{index + 1:x}" * 64,
            total_size=2_000_000_000,
            model_size=1_900_000_000,
            weights_size=1_900_000_000,
            parameter_size="3B",
            quantization="Q4_0",
        )
        for index, model in enumerate(MODELS)
        if model in pinned
    }
    return serialize_lock(ModelLock(pins))


EDITS = st.one_of(
    st.tuples(
        st.just("leaf"),
        st.sampled_from(ENVIRONMENTS),
        st.sampled_from(("a", "b")),
        st.sampled_from(("s1", "s2", "s3")),
        st.integers(0, 41),
    ),
    st.tuples(
        st.just("delete"),
        st.sampled_from(ENVIRONMENTS),
        st.sampled_from(("a", "b")),
        st.sampled_from(("s1", "s2", "s3")),
    ),
    st.tuples(st.just("environment"), st.sampled_from(ENVIRONMENTS), st.integers(0, 11)),
    st.tuples(st.just("drop-environment"), st.sampled_from(ENVIRONMENTS)),
    st.tuples(st.just("lock"), st.sets(st.sampled_from(MODELS))),
    st.tuples(st.just("values"), st.integers(1, 3)),
    st.tuples(st.just("schema"), st.integers(1, 3)),
    # The emitted files' bytes are stored apart from their sha256 (files packs): damaged there
    # (with a valid checksum), or every output file edited by hand (so the writer asks for them).
    st.tuples(st.just("damage-files")),
    st.tuples(st.just("hand-edit")),
)


def apply(root: Path, edit: tuple[Any, ...]) -> None:
    catalog = root / "catalog"
    kind = edit[0]
    if kind == "leaf":
        _, env, namespace, name, variant = edit
        write_yaml(catalog / env / namespace / f"{name}.yaml", leaf(env, namespace, name, variant))
    elif kind == "delete":
        _, env, namespace, name = edit
        (catalog / env / namespace / f"{name}.yaml").unlink(missing_ok=True)
    elif kind == "environment":
        write_yaml(catalog / "environments" / f"{edit[1]}.yaml", environment(edit[1], edit[2]))
    elif kind == "drop-environment":
        (catalog / "environments" / f"{edit[1]}.yaml").unlink(missing_ok=True)
    elif kind == "damage-files":
        for path in (root / CACHE_DIR).glob(f"{cache.FILES_PACK_PREFIX}*"):
            damage_files(path)
    elif kind == "hand-edit":  # both outputs alike: a render that fails leaves them as they are
        for path in sorted([*(root / "inc").rglob("*"), *(root / "cold").rglob("*")]):
            if path.is_file():
                path.write_bytes(path.read_bytes() + b"# edited by hand\n")
    elif kind == "lock":
        (catalog / "models.lock.yaml").write_text(lock_text(edit[1]), encoding="utf-8")
    elif kind == "values":
        values = root / "chart" / "values.yaml"
        text = values.read_text(encoding="utf-8")
        values.write_text(
            text.replace("\nreplicaCount: ", f"\n# edited\nreplicaCount: {edit[1]} #"),
            encoding="utf-8",
        )
    else:
        schema_path = root / "chart" / "values.schema.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        schema["properties"]["replicaCount"]["maximum"] = edit[1]
        schema_path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


def damage_files(path: Path) -> None:
    """A files pack whose checksum holds but whose bytes are not the entries' (nor each
    other's: shifted by one key)."""
    stored = cache._read_pack(path, cache._PackUnpickler)
    keys = sorted(stored)
    damaged = {key: stored[keys[(index + 1) % len(keys)]] for index, key in enumerate(keys)}
    for files in damaged.values():
        for name in files:
            files[name] = b"damaged " + files[name]
    cache._write_pack(path, damaged)


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def start(root: Path) -> None:
    shutil.copytree(CHART, root / "chart")
    for name in ENVIRONMENTS:
        apply(root, ("environment", name, 0))
    apply(root, ("lock", {"llama3.2:3b"}))
    apply(root, ("leaf", "dev", "a", "s1", 0))
    apply(root, ("leaf", "prod", "b", "s2", 1))


def both(root: Path, command: str) -> tuple[Outcome, Outcome]:
    """command with the cache and without, each to its own outputs."""
    outcomes = []
    for flags, out in (([], "inc"), (["--no-cache"], "cold")):
        options = ["--catalog", "catalog", *flags]
        if command == "render":
            options += ["--out", f"{out}/generated", "--gitops-root", out]
        outcomes.append(run_cli(root, command, *options, chart=root / "chart"))
    return outcomes[0], outcomes[1]


def assert_same(root: Path) -> None:
    for command in ("validate", "render"):
        cached, cold = both(root, command)
        assert (cached.code, cached.stdout) == (cold.code, cold.stdout), command
        assert written_aside(cached.stderr.replace("inc", "cold")) == written_aside(cold.stderr)
    assert read_tree(root / "inc") == read_tree(root / "cold")
    # check with the cache trusts the stamps render recorded for inc: still up to date.
    check = ["--catalog", "catalog", "--out", "inc/generated", "--gitops-root", "inc"]
    if cached.code == 0:
        assert run_cli(root, "check", *check, chart=root / "chart").code == 0


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(EDITS, min_size=1, max_size=6))
def test_incremental_render_is_byte_identical_to_a_cold_render(
    edits: list[tuple[Any, ...]],
) -> None:
    # Leaves count as changed only by their stat (no racy window: the edits here come a whole
    # run apart), so the stat index is what decides, as it does for leaves older than it.
    with tempfile.TemporaryDirectory() as directory, pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache, "RACY_SECONDS", 0.0)
        root = Path(directory)
        start(root)
        assert_same(root)
        assert (root / CACHE_DIR).is_dir()
        for edit in edits:
            apply(root, edit)
            assert_same(root)


def test_a_second_render_reuses_every_leaf(tmp_path: Path) -> None:
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 2))
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    apply(tmp_path, ("leaf", "dev", "a", "s2", 3))
    counted = LeafCache(tmp_path / CACHE_DIR)
    outcome = run_with(tmp_path, counted)
    assert outcome.code == 0
    assert (counted.hits, counted.misses) == (2, 1)


def test_the_caches_misses_are_planned_where_no_cache_plans_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty cache (a first render), or an edit every leaf depends on, plans the leaves in
    plan/fresh.py's chunks (the --jobs processes), not one by one in catalog-gen: a first
    render used to take 20 s at 10,000 leaves that way. A warm run plans none, in no chunk."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 2))
    chunked: list[int] = []
    real = chunked_map

    def counted(work: Any, items: Any, jobs: int, **options: Any) -> Any:
        chunked.append(len(items))
        return real(work, items, jobs, **options)

    monkeypatch.setattr(fresh, "chunked_map", counted)
    for _ in range(2):
        assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    apply(tmp_path, ("environment", "dev", 2))  # every dev leaf depends on it
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    # every leaf; none (the warm run reuses the last run whole, snapshot.py); the two dev leaves
    assert chunked == [3, 2]


def test_a_cached_run_warns_of_a_missing_owner_without_planning_a_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start(tmp_path)
    apply(tmp_path, ("environment", "dev", 5))  # dev names no owner
    apply(tmp_path, ("leaf", "dev", "a", "s2", 17))  # a leaf that names its own
    first = run_cli(tmp_path, "render", chart=tmp_path / "chart")
    assert first.code == 0, first.stdout + first.stderr
    warned = [line for line in first.stdout.splitlines() if "$.owner" in line]
    assert [line.split(":", 1)[0] for line in warned] == ["catalog/dev/a/s1.yaml"]
    planned: list[str] = []
    real = plan_leaf

    def counted(path: Path, *arguments: Any, **options: Any) -> ServicePlan | None:
        planned.append(str(path))
        return real(path, *arguments, **options)

    monkeypatch.setattr(fresh, "plan_leaf", counted)  # plan/fresh.py plans every leaf
    for command in ("validate", "render", "check"):
        again = run_cli(tmp_path, command, chart=tmp_path / "chart")
        assert again.code == 0, again.stdout + again.stderr
        assert [line for line in again.stdout.splitlines() if "$.owner" in line] == warned
    assert planned == []  # every leaf from the cache, and no plan planned again for the check


def test_the_rules_across_services_run_again_only_when_a_services_facts_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the rules across leaves and the emit-stage checks found is reused after an edit that
    changes no service's facts (a description); an edit that does (a host another service
    has) runs them again, and the clash is reported as without the cache."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 1))
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    ran: list[str] = []
    real_across, real_argocd = check_across_leaves, argocd.check_catalog

    def across(*arguments: Any) -> None:
        ran.append("across leaves")
        real_across(*arguments)

    def argocd_checks(*arguments: Any) -> None:
        ran.append("emit checks")
        real_argocd(*arguments)

    monkeypatch.setattr(pipeline, "check_across_leaves", across)
    monkeypatch.setattr(argocd, "check_catalog", argocd_checks)
    edited = tmp_path / "catalog" / "dev" / "a" / "s2.yaml"
    data = yaml.safe_load(edited.read_text(encoding="utf-8"))
    write_yaml(edited, {**data, "description": "edited"})
    for command in ("validate", "render", "check"):
        outcome = run_cli(tmp_path, command, chart=tmp_path / "chart")
        assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert ran == []
    apply(tmp_path, ("leaf", "dev", "a", "s2", 8))  # s1's host: a clash
    cached = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    assert ran == ["across leaves", "emit checks"]
    cold = run_cli(tmp_path, "validate", "--no-cache", chart=tmp_path / "chart")
    assert (cached.code, cached.stdout) == (cold.code, cold.stdout) == (1, cold.stdout)
    assert "h0.example.com" in cached.stdout
    assert_same(tmp_path)


def test_remembered_rules_problems_are_only_those_of_their_key(tmp_path: Path) -> None:
    """A rules pack whose problems are another key's (a catalog the rules judged otherwise) is
    not used for this one."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 8))  # a clash
    assert_same(tmp_path)
    clashing = (tmp_path / CACHE_DIR / cache.RULES_FILE).read_bytes()
    apply(tmp_path, ("leaf", "dev", "a", "s2", 1))  # none
    assert_same(tmp_path)
    (tmp_path / CACHE_DIR / cache.RULES_FILE).write_bytes(clashing)
    assert_same(tmp_path)


def run_with(root: Path, cache: LeafCache) -> Outcome:
    """validate with this LeafCache (to look at its counters), as `catalog-gen validate`."""

    def lock_loader(path: Path, report: Report, display: str) -> ModelLockFacts:
        lock = load_lock(path, report, display)
        return lock.models if lock is not None else {}

    report = Report()
    with working_directory(root):  # as run_cli runs it: the same keys
        plan_catalog(
            Path("catalog"),
            "catalog",
            ChartContract.load(Path("chart")),
            report,
            lock_loader=lock_loader,
            cache=cache,
        )
    return Outcome(0 if report.ok else 1, report.format_text(), "")


def packs(root: Path, prefix: str = PACK_PREFIX) -> list[Path]:
    return sorted((root / CACHE_DIR).glob(f"{prefix}*{PACK_SUFFIX}"))


def corrupt_by_flipping_a_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def corrupt_a_text_that_still_unpickles(path: Path) -> None:
    """One leaf's path, in every place the pack holds it, spelled as another leaf's: a pickle
    that loads, entries of the right types under their own keys; only the checksum tells."""
    raw = path.read_bytes()
    header = len(cache._MAGIC) + 32
    path.write_bytes(raw[:header] + raw[header:].replace(b"dev/a/s1.yaml", b"dev/a/s9.yaml"))


def corrupt_by_truncating(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


def corrupt_with_garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 10)


def corrupt_with_a_foreign_entry(path: Path) -> None:
    """A pack with a valid checksum whose entries are another key's, and one malformed (an
    entry or a file's bytes that no run stores there)."""
    entries = path.name.startswith(PACK_PREFIX)
    stored = cache._read_pack(path, cache._entry_unpickler if entries else cache._PackUnpickler)
    keys = sorted(stored)
    swapped = {key: stored[keys[(index + 1) % len(keys)]] for index, key in enumerate(keys)}
    if entries:
        swapped[keys[0]] = dataclasses.replace(stored[keys[0]], problems=["not a tuple"])
    else:
        swapped[keys[0]] = {"../../escaped": b"anything"}
    cache._write_pack(path, swapped)


def corrupt_with_a_forbidden_global(path: Path) -> None:
    """A pack with a valid checksum whose pickle names a function: refused whole."""
    stored = cache._read_pack(path, cache._entry_unpickler)
    stored |= cache._read_pack(path, cache._PackUnpickler)
    cache._write_pack(path, dict.fromkeys(stored, print))


CORRUPTIONS = (
    corrupt_by_flipping_a_byte,
    corrupt_a_text_that_still_unpickles,
    corrupt_by_truncating,
    corrupt_with_garbage,
    corrupt_with_a_foreign_entry,
    corrupt_with_a_forbidden_global,
)


def test_helm_judges_only_case_texts_it_has_not_answered_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leaf edit that leaves what the chart's template rules read as it was (a description)
    takes helm's answer from the entry the leaf had; one that changes it (a GPU count) asks
    helm. Both give what a cold run gives."""
    start(tmp_path)
    assert_same(tmp_path)
    asked = helm_runs(monkeypatch)
    edited = tmp_path / "catalog" / "dev" / "a" / "s1.yaml"
    write_yaml(edited, {**yaml.safe_load(edited.read_text(encoding="utf-8")), "description": "x"})
    outcome = run_cli(tmp_path, "render", chart=tmp_path / "chart")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert asked == []
    apply(tmp_path, ("leaf", "dev", "b", "s3", 1))  # what prod's s2 sends helm: answered
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    assert asked == []
    assert_same(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s1", 3))  # one GPU, where no service has one on phi
    asked.clear()
    outcome = run_cli(tmp_path, "render", chart=tmp_path / "chart")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert asked == [1]
    assert_same(tmp_path)


def test_an_edit_of_the_charts_template_rules_asks_helm_again(tmp_path: Path) -> None:
    """helm's answers are kept for the chart that gave them: a rule added to _validate.tpl
    judges every service again, cached or not."""
    start(tmp_path)
    assert_same(tmp_path)
    rules = tmp_path / "chart" / "templates" / "_validate.tpl"
    text = rules.read_text(encoding="utf-8")
    rule = (
        '{{- if gt (int .Values.gpu.count) 0 }}{{- $messages = append $messages (dict "value" '
        '"gpu.count" "message" "no GPU for this test") }}{{- end }}\n'
    )
    anchor = "{{- $messages := list }}\n"
    rules.write_text(text.replace(anchor, anchor + rule, 1), encoding="utf-8")
    cached = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    assert cached.code == 1
    assert "no GPU for this test" in cached.stdout
    assert_same(tmp_path)


def test_a_rule_in_a_linked_chart_folder_is_in_the_key(tmp_path: Path) -> None:
    # A chart whose templates/ is a link to a folder: the key walked no link, so an edited rule
    # there kept helm's old answers (cached check said up to date; --no-cache refused).
    start(tmp_path)
    shutil.move(tmp_path / "chart" / "templates", tmp_path / "shared-templates")
    (tmp_path / "chart" / "templates").symlink_to(tmp_path / "shared-templates")
    assert_same(tmp_path)
    rules = tmp_path / "shared-templates" / "_validate.tpl"
    rule = (
        '{{- $messages = append $messages (dict "value" "gpu.count" "message" '
        '"a rule behind a link") }}\n'
    )
    anchor = "{{- $messages := list }}\n"
    rules.write_text(rules.read_text().replace(anchor, anchor + rule, 1), encoding="utf-8")
    cached = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    assert "a rule behind a link" in cached.stdout
    assert_same(tmp_path)


def test_a_chart_file_named_in_no_utf_8_is_keyed_not_a_crash(tmp_path: Path) -> None:
    start(tmp_path)
    (tmp_path / "chart" / "ci" / os.fsdecode(b"\xff.txt")).write_text("x", encoding="utf-8")
    assert_same(tmp_path)


def test_a_generated_file_rewritten_in_place_with_its_mtime_set_back_is_seen(
    tmp_path: Path,
) -> None:
    # The write record's stamp had no ctime: bytes changed at the same size with the mtime
    # restored were trusted, and neither check nor render saw them.
    start(tmp_path)
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    target = next((tmp_path / "generated").rglob("values.yaml"))
    before = target.stat()
    data = bytearray(target.read_bytes())
    data[-2:-1] = b"#" if data[-2:-1] != b"#" else b"!"
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size
    assert run_cli(tmp_path, "check", chart=tmp_path / "chart").code == 1
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    assert run_cli(tmp_path, "check", "--no-cache", chart=tmp_path / "chart").code == 0


def test_a_patched_file_is_stamped_where_it_was_moved(tmp_path: Path) -> None:
    # A rename changes a file's ctime: the stamps taken in the staging folder would make the
    # next run read every file the last one patched.
    start(tmp_path)
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    apply(tmp_path, ("leaf", "dev", "a", "s1", 1))
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    record = WriteRecord(tmp_path / CACHE_DIR)
    stamps = record.stamps(tmp_path / "generated")
    assert stamps
    for name, taken in stamps.items():
        assert taken.matches(os.lstat(tmp_path / "generated" / name)), name


def test_the_rules_across_services_run_again_when_an_environment_file_changes(
    tmp_path: Path,
) -> None:
    """A GPU budget added to an environment changes no service's facts, but what the rules
    find: they run again (an environment file's bytes are in the key)."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s1", 1))  # 2 GPUs
    apply(tmp_path, ("leaf", "dev", "a", "s2", 3))  # 2 more
    assert_same(tmp_path)
    apply(tmp_path, ("environment", "dev", 4))  # a budget of 2
    cached = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    assert cached.code == 1
    assert "budget" in cached.stdout
    assert_same(tmp_path)


def corrupt_with_a_malformed_finding(path: Path) -> None:
    """A rules pack with a valid checksum whose values are not (key, problems)."""
    stored = cache._read_pack(path, cache._entry_unpickler)
    cache._write_pack(path, {rules: (key, ["not a problem"]) for rules, (key, _) in stored.items()})


@pytest.mark.parametrize(
    "corrupt",
    [
        corrupt_by_flipping_a_byte,
        corrupt_by_truncating,
        corrupt_with_garbage,
        corrupt_with_a_forbidden_global,
        corrupt_with_a_malformed_finding,
    ],
)
def test_a_corrupt_or_foreign_rules_pack_is_ignored(
    tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 8))  # a clash: the rules found something
    assert_same(tmp_path)
    rules = tmp_path / CACHE_DIR / cache.RULES_FILE
    assert rules.is_file()
    corrupt(rules)
    assert_same(tmp_path)


def test_a_corrupt_or_foreign_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    start(tmp_path)
    for name in ("s2", "s3"):
        apply(tmp_path, ("leaf", "dev", "a", name, 3))
    assert_same(tmp_path)
    for corrupt in CORRUPTIONS:
        for path in packs(tmp_path):
            corrupt(path)
        assert_same(tmp_path)
        rebuilt = LeafCache(tmp_path / CACHE_DIR)
        run_with(tmp_path, rebuilt)
        assert rebuilt.misses == 0, corrupt.__name__  # rebuilt by the run before


def test_validating_some_files_keeps_only_entries_that_are_ones(tmp_path: Path) -> None:
    """`validate FILE...` keeps the entries of the leaves it did not see; stored values that are
    not entries (a pack with a valid checksum and plain values) are dropped from the packs it
    read, never stored again; a pack it did not read (packs are read when one of their entries
    is asked for) is left as it was."""
    start(tmp_path)
    assert_same(tmp_path)
    for path in packs(tmp_path):
        cache._write_pack(path, dict.fromkeys(cache._read_pack(path, cache._entry_unpickler), 42))
    garbage = {path: path.read_bytes() for path in packs(tmp_path)}
    leaf_file = "catalog/dev/a/s1.yaml"
    cold = run_cli(tmp_path, "validate", "--no-cache", leaf_file, chart=tmp_path / "chart")
    cached = run_cli(tmp_path, "validate", leaf_file, chart=tmp_path / "chart")
    assert (cached.code, cached.stdout, cached.stderr) == (cold.code, cold.stdout, cold.stderr)
    cleaned = 0
    for path in packs(tmp_path):
        stored = cache._read_pack(path, cache._entry_unpickler).values()
        if all(type(entry) is cache._Entry for entry in stored):
            cleaned += 1
        else:
            assert path.read_bytes() == garbage[path]
    assert cleaned > 0
    assert_same(tmp_path)


def test_corrupt_or_foreign_file_bytes_are_emitted_again(tmp_path: Path) -> None:
    """The emitted files' bytes live apart from their sha256 (files packs): bytes that are not
    the entry's are never written; the service's files are emitted again, and stored again."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "a", "s2", 3))
    assert_same(tmp_path)
    for corrupt in (*CORRUPTIONS, damage_files, Path.unlink):
        for path in packs(tmp_path, cache.FILES_PACK_PREFIX):
            corrupt(path)
        shutil.rmtree(tmp_path / "inc")  # every file is written, so its bytes are asked for
        assert_same(tmp_path)
        files = packs(tmp_path, cache.FILES_PACK_PREFIX)
        assert len(files) == len(packs(tmp_path)), corrupt.__name__  # stored again


def test_no_cache_neither_reads_nor_writes_it(tmp_path: Path) -> None:
    start(tmp_path)
    outcome = run_cli(tmp_path, "render", "--no-cache", chart=tmp_path / "chart")
    assert outcome.code == 0, outcome.stderr
    assert not (tmp_path / CACHE_DIR).exists()
    outcome = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    assert outcome.code == 0
    assert packs(tmp_path)


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    start(tmp_path)
    (tmp_path / CACHE_DIR).write_text("not a directory", encoding="utf-8")
    cached = run_cli(tmp_path, "validate", chart=tmp_path / "chart")
    cold = run_cli(tmp_path, "validate", "--no-cache", chart=tmp_path / "chart")
    assert (cached.code, cached.stdout, cached.stderr) == (cold.code, cold.stdout, cold.stderr)


def test_an_entry_can_only_unpickle_into_catalog_gen_classes() -> None:
    for forbidden in (print, write_tree, os.system):
        with pytest.raises(pickle.UnpicklingError):
            cache._EntryUnpickler(io.BytesIO(pickle.dumps(forbidden))).load()
    dotted = b"ccatalog_gen.writer\nos.system\n."  # GLOBAL catalog_gen.write.writer os.system
    with pytest.raises(pickle.UnpicklingError):
        cache._EntryUnpickler(io.BytesIO(dotted)).load()
    plain = Problem("leaf.yaml", 1, 1, "$", "message")
    assert cache._EntryUnpickler(io.BytesIO(pickle.dumps(plain))).load() == plain


def catalog_with(root: Path, planner: LeafCache | None) -> CatalogPlan:
    """The catalog planned with planner (None: without a cache), as `validate` plans it (run
    from root: its plans are planned when first asked for, from there too)."""

    def lock_loader(path: Path, report: Report, display: str) -> ModelLockFacts:
        lock = load_lock(path, report, display)
        return lock.models if lock is not None else {}

    with working_directory(root):
        return plan_catalog(
            Path("catalog"),
            "catalog",
            ChartContract.load(Path("chart")),
            Report(),
            lock_loader=lock_loader,
            cache=planner,
        )


def plans_with(root: Path, planner: LeafCache | None) -> tuple[ServicePlan, ...]:
    """Every valid service's full plan, planned with planner (None: without a cache)."""
    planned = catalog_with(root, planner)
    with working_directory(root):
        return planned.plans


def test_cached_facts_and_plans_are_those_of_a_fresh_plan(tmp_path: Path) -> None:
    """The facts a cache hit gives are leaf_facts of the plan planning gives, and the plan it
    gives when asked (planned again from the leaf: no plan is stored) is that plan."""
    start(tmp_path)
    apply(tmp_path, ("leaf", "dev", "b", "s3", 5))  # a claim
    apply(tmp_path, ("environment", "dev", 2))  # autoscaling
    apply(tmp_path, ("leaf", "dev", "a", "s2", 7))  # autoscaled
    cold = plans_with(tmp_path, None)
    assert len(cold) == 4
    filling = LeafCache(tmp_path / CACHE_DIR)
    assert plans_with(tmp_path, filling) == cold
    filling.save()
    counted = LeafCache(tmp_path / CACHE_DIR)
    assert plans_with(tmp_path, counted) == cold
    assert (counted.hits, counted.misses) == (4, 0)
    facts = [counted._used[key].facts for key in sorted(counted._used)]
    assert sorted(facts, key=repr) == sorted(map(leaf_facts, cold), key=repr)


@pytest.mark.parametrize("edit", ["delete", "comment"])
def test_a_leaf_edited_during_a_run_is_not_planned_into_its_cached_facts(
    tmp_path: Path, edit: str
) -> None:
    """The plan of a cached leaf is planned again from its file when asked for: a file whose
    bytes changed since the cache gave its problems and facts fails loudly, even when the
    change leaves the facts as they were (a comment: the plan's positions could still move),
    never mixes two versions."""
    start(tmp_path)
    filling = LeafCache(tmp_path / CACHE_DIR)
    plans_with(tmp_path, filling)
    filling.save()
    found = LeafCache(tmp_path / CACHE_DIR)
    planned = catalog_with(tmp_path, found)
    assert found.misses == 0
    assert "catalog/dev/a/s1.yaml" in {service.leaf_path for service in planned.services}
    leaf_file = tmp_path / "catalog" / "dev" / "a" / "s1.yaml"
    if edit == "delete":
        leaf_file.unlink()
    else:
        leaf_file.write_bytes(b"# a comment\n" + leaf_file.read_bytes())
    with working_directory(tmp_path), pytest.raises(cache.LeafChangedError, match="changed while"):
        planned.plans  # noqa: B018 - the property plans every service


def test_a_lock_edit_replans_only_the_leaves_whose_pins_changed(tmp_path: Path) -> None:
    start(tmp_path)  # dev/a/s1 asks for phi:latest, prod/b/s2 for llama3.2:3b (pinned)
    apply(tmp_path, ("leaf", "dev", "a", "s3", 2))  # nomic-embed-text
    run_cli(tmp_path, "validate", chart=tmp_path / "chart")  # fills the cache
    apply(tmp_path, ("lock", {"llama3.2:3b", "phi:latest"}))  # phi's pin added
    counted = LeafCache(tmp_path / CACHE_DIR)
    run_with(tmp_path, counted)
    assert (counted.hits, counted.misses) == (2, 1)  # s1 (phi) only
    assert_same(tmp_path)


def test_a_leaf_whose_stat_is_unchanged_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "RACY_SECONDS", 0.0)
    start(tmp_path)
    assert_same(tmp_path)
    leaf_file = tmp_path / "catalog/dev/a/s1.yaml"
    read: list[Path] = []
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        read.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    counted = LeafCache(tmp_path / CACHE_DIR)
    run_with(tmp_path, counted)
    assert (counted.hits, counted.misses) == (2, 0)
    leaves = [path for path in read if path.parent.name in ("a", "b")]
    assert leaves == []  # no leaf read
    monkeypatch.setattr(Path, "read_bytes", real)
    # The same size and the modification time set back: the change time still tells.
    text = leaf_file.read_text(encoding="utf-8")
    before = leaf_file.stat()
    edited = text.replace("h0.example.com", "h9.example.com")
    assert edited != text
    assert len(edited) == len(text)
    leaf_file.write_text(edited, encoding="utf-8")
    os.utime(leaf_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert_same(tmp_path)


@pytest.mark.parametrize(
    "content", [b"not json", b'{"version": 1, "leaves": {"x": [1]}}', b'{"version": 9}']
)
def test_a_malformed_leaf_index_counts_as_empty(tmp_path: Path, content: bytes) -> None:
    start(tmp_path)
    assert_same(tmp_path)
    (tmp_path / CACHE_DIR / cache.INDEX_FILE).write_bytes(content)
    assert cache.LeafIndex(tmp_path / CACHE_DIR).known(tmp_path / "catalog/dev/a/s1.yaml") is None
    assert_same(tmp_path)


def test_an_entry_naming_a_file_outside_its_folder_is_malformed() -> None:
    """Names once accepted are not checked again, so one checked earlier in the process
    never lets another through."""
    digest = "0" * 64
    assert cache.well_formed_files({"values.yaml": digest, "sub/app.json": digest})
    for name in ("../escaped", "/etc/passwd", "a/./b", "a//b", ""):
        assert not cache.well_formed_files({"values.yaml": digest, name: digest})
    assert not cache.well_formed_files({"values.yaml": "short"})
    assert not cache.well_formed_files({"values.yaml": 1})


MALFORMED = {
    "problems": ["a list"],
    "problems ": ("not a problem",),
    "lock_reads": [("a", "b")],
    "lock_reads ": (("one",),),
    "lock_reads  ": (("a", 1),),
    "lock_reads   ": ("ab",),
    "facts": {"not": "facts"},
    "files": {"values.yaml": b"0" * 64},
    "templates": ("helm", ["not a tuple"]),
    "templates ": ("helm", ("not a message",)),
    "templates  ": ("helm",),
    "facts_digest": b"bytes",
    "case_key": 1,
}


@pytest.mark.parametrize("broken", sorted(MALFORMED))
def test_an_entry_with_one_field_of_another_shape_is_malformed(tmp_path: Path, broken: str) -> None:
    start(tmp_path)
    assert_same(tmp_path)
    entries = cache._StoredEntries(tmp_path / CACHE_DIR).everything().values()
    good = next(entry for entry in entries if entry.facts is not None and entry.lock_reads)
    assert cache._well_formed(good)
    assert not cache._well_formed(dataclasses.replace(good, **{broken.strip(): MALFORMED[broken]}))


def test_what_earlier_runs_left_in_the_cache_folder_is_removed(tmp_path: Path) -> None:
    """A plans pack (earlier catalog-gens pickled every plan) and the temporary file of a pack
    whose writer was killed are removed when the cache is saved; a temporary file young enough
    to have a live writer is left to it."""
    start(tmp_path)
    assert_same(tmp_path)
    folder = tmp_path / CACHE_DIR
    plans = folder / f"{cache.OLD_PLAN_PACK_PREFIX}00{PACK_SUFFIX}"
    killed = folder / f".{PACK_PREFIX}00{PACK_SUFFIX}.tmp-killed"
    record = next(folder.glob("written-*.record"))
    killed_record = folder / f".{record.name}.tmp-killed"  # written.replace_file's name
    live = folder / f".{cache.FILES_PACK_PREFIX}00{PACK_SUFFIX}.tmp-live"
    for path in (plans, killed, killed_record, live):
        path.write_bytes(b"left behind")
    an_hour_ago = time.time() - 3600
    for path in (killed, killed_record):
        os.utime(path, (an_hour_ago, an_hour_ago))
    apply(tmp_path, ("leaf", "dev", "a", "s2", 3))  # a change: the cache is saved
    assert_same(tmp_path)
    assert not plans.exists()
    assert not killed.exists()
    assert not killed_record.exists()
    assert live.exists()


def test_a_leaf_changed_within_the_racy_window_is_read_again_not_trusted(tmp_path: Path) -> None:
    """A leaf whose mtime or ctime is within RACY_SECONDS of the run's start could change again
    in the same timestamp tick without its stat changing (a coarse file system): git's racily
    clean entries. The index keeps its digest for `recorded`, never its stat, so the next run
    reads it; once older, its stat is trusted."""
    leaf_file = tmp_path / "leaf.yaml"
    leaf_file.write_bytes(b"a: 1\n")
    fresh = cache.LeafIndex(tmp_path / CACHE_DIR)
    fresh.learn(leaf_file, leaf_file.read_bytes())
    fresh.save(complete=True)
    after = cache.LeafIndex(tmp_path / CACHE_DIR)
    assert after.known(leaf_file) is None
    assert after.recorded(str(leaf_file)) == digest_of(b"a: 1\n")
    # The same file, its mtime and ctime before the window (ctime cannot be set back: the
    # index's start is moved forward instead).
    later = cache.LeafIndex(tmp_path / CACHE_DIR)
    later._started += int((written.RACY_SECONDS + 1) * 1e9)
    later.learn(leaf_file, leaf_file.read_bytes())
    later.save(complete=True)
    assert cache.LeafIndex(tmp_path / CACHE_DIR).known(leaf_file) == digest_of(b"a: 1\n")


def test_another_helm_judges_the_template_rules_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """helm's answers are kept with the helm that gave them (path, size, mtime): after a switch
    (helm 3 to 4, CATALOG_GEN_HELM) nothing answered by the other is reused."""
    start(tmp_path)
    assert_same(tmp_path)
    asked = helm_runs(monkeypatch)
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    assert asked == []  # the same helm: every answer kept
    other = tmp_path / "other-helm"
    shutil.copy2(REPO_ROOT / ".tools" / "helm" / "4.3.1" / "helm", other)
    monkeypatch.setenv("CATALOG_GEN_HELM", str(other))
    outcome = run_cli(tmp_path, "render", chart=tmp_path / "chart")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert asked != []


def test_an_entry_filed_under_another_leafs_key_is_not_taken(tmp_path: Path) -> None:
    """Packs whose checksums hold and whose entries are well formed, each entry filed under
    another leaf's key: taken as found, a leaf would get another leaf's problems and files."""
    start(tmp_path)
    for name in ("s2", "s3"):
        apply(tmp_path, ("leaf", "dev", "a", name, 3))
    assert_same(tmp_path)
    stored = {path: cache._read_pack(path, cache._entry_unpickler) for path in packs(tmp_path)}
    keys = sorted(key for pack in stored.values() for key in pack)
    entries = {key: entry for pack in stored.values() for key, entry in pack.items()}
    assert len(keys) > 1
    for path, pack in stored.items():
        cache._write_pack(path, {key: entries[keys[keys.index(key) - 1]] for key in pack})
    assert_same(tmp_path)


@pytest.mark.parametrize("edited", ["environment", "lock", "chart"])
def test_inputs_changed_during_a_first_render_cache_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edited: str
) -> None:
    """An environment file, the lock or the chart saved while a render with an empty cache ran:
    its entries and snapshot were keyed by the new bytes, read as the entries were made, though
    planned with the old (review): the next cached check called the stale tree up to date, and
    cached renders put stale files back over a cold render's. Nothing is kept now."""
    chart = tmp_path / "chart"
    shutil.copytree(REPO_ROOT / "charts/ollama-inference-load", chart)
    catalog = make_catalog(tmp_path, {"dev/ml/a.yaml": leaf_text(name="a")})
    environment = catalog / "environments/dev.yaml"
    assert "size: 20Gi" in environment.read_text()
    learn = LeafCache.learn
    saved: list[bool] = []

    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def learn_while_edited(self: LeafCache, found: fresh.FreshLeaf) -> None:
        if not saved:  # the first entry made: the input is saved meanwhile
            saved.append(True)
            if edited == "environment":
                edit(environment, "size: 20Gi", "size: 30Gi")
            elif edited == "lock":  # phi pinned: its digest in the values
                (catalog / "models.lock.yaml").write_text(lock_text({"phi:latest"}))
            else:  # no replica count valid any more: every service an error
                schema = chart / "values.schema.json"
                edit(schema, '"maximum": 2147483647', '"maximum": -1')
        learn(self, found)

    monkeypatch.setattr(LeafCache, "learn", learn_while_edited)
    first = run_cli(tmp_path, "render", chart=chart)
    monkeypatch.setattr(LeafCache, "learn", learn)
    assert first.code == 0, first.stdout + first.stderr
    assert "nothing it planned was cached (run it again)" in first.stderr
    cold = run_cli(tmp_path, "check", "--no-cache", chart=chart)
    assert cold.code == 1  # every edit changes the output (or makes the catalog invalid)
    assert run_cli(tmp_path, "check", chart=chart).code == 1
    if edited != "chart":  # a cached render writes what changed, and keeps it
        assert run_cli(tmp_path, "render", chart=chart).code == 0
        assert run_cli(tmp_path, "check", "--no-cache", chart=chart).code == 0
