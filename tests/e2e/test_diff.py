"""`catalog-gen diff --base REF` on scratch git repositories: exactly the services whose inputs
changed are rendered (with the pinned helm, both sides), the manifest diff and the Markdown
deltas are right, two runs print the same bytes, nothing is written in the repository, and a
bad REF, a directory outside git or an invalid side give the documented exit codes."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog_gen.cli import main
from catalog_gen.diff import render
from catalog_gen.diff.render import Resource, ServiceInputs
from tests.conftest import REPO_ROOT, helm_binary
from tests.support.scratch_git import git

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "leaves" / "valid" / "sizing-from-lock" / "catalog"
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
PHI = "dev/ml-workloads/ollama-phi"
RAG = "dev/ml-workloads/rag"
SMALL = "sized/chat/small"
LARGE = "sized/chat/large"
SMALL_DIGEST = "1" * 64


def leaf(name: str, model: str, replicas: int, requests: str, limits: str) -> str:
    return f"""\
workloadType: OLLAMA_INFERENCE_LOAD
serviceName: {name}
serviceCatalog: ml-inference
namespace: ml-workloads
environment: dev
model: "{model}"
gpu: {{count: 1}}
container:
  replicas: {replicas}
  resources:
    requests: {{cpu: 500m, memory: {requests}}}
    limits: {{cpu: "2", memory: {limits}}}
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    rendered: list[tuple[str, str]]  # (side, service) of every helm run, sorted


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed catalog: two dev services (no lock entries), two sized ones (pinned)."""
    root = tmp_path / "repo"
    catalog = root / "catalog"
    shutil.copytree(CHART, root / "charts" / "ollama-inference-load")
    shutil.copytree(FIXTURE, catalog)
    shutil.copy(REPO_ROOT / "catalog" / "environments" / "dev.yaml", catalog / "environments")
    (catalog / "dev" / "ml-workloads").mkdir(parents=True)
    write(root, PHI, leaf("ollama-phi", "phi:latest", 1, "2Gi", "4Gi"))
    write(root, RAG, leaf("rag", "llama3.2:3b", 1, "1Gi", "2Gi"))
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "base")
    monkeypatch.chdir(root)
    monkeypatch.setenv("CATALOG_GEN_HELM", str(helm_binary("3.19.0")))
    return root


def write(root: Path, service: str, text: str) -> None:
    (root / "catalog" / f"{service}.yaml").write_text(text, encoding="utf-8")


def diff(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> Run:
    """catalog-gen diff in process, recording which services helm rendered on which side."""
    rendered: list[tuple[str, str]] = []
    real = render.render_service

    def spy(helm: Path, chart: Path, inputs: ServiceInputs) -> list[Resource]:
        work_tree = Path("charts/ollama-inference-load").resolve()
        side = "work tree" if chart.resolve() == work_tree else "base"
        rendered.append((side, inputs.key))
        return real(helm, chart, inputs)

    monkeypatch.setattr(render, "render_service", spy)
    code = main(["diff", *args])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err, sorted(rendered))


def both(*services: str) -> list[tuple[str, str]]:
    return sorted((side, service) for side in ("base", "work tree") for service in services)


def test_a_leaf_change_renders_that_service_only(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, PHI, leaf("ollama-phi", "phi:latest", 2, "2Gi", "4Gi"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == both(PHI)
    assert run.out.startswith(f"# {PHI}: changed (")
    deployment = run.out.index("--- a/Deployment/ml-workloads/ollama-phi\n")
    assert run.out.index("-  replicas: 1\n+  replicas: 2\n") > deployment
    assert "--- /dev/null\n+++ b/PodDisruptionBudget/ml-workloads/ollama-phi\n" in run.out
    assert RAG not in run.out
    assert "1 service has manifest changes between main and the work tree" in run.err


def test_markdown_counts_and_deltas_per_environment(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, PHI, leaf("ollama-phi", "phi:latest", 2, "2Gi", "4Gi"))
    run = diff(monkeypatch, capsys, "--base", "main", "--format", "markdown")
    assert run.code == 0, run.err
    assert run.out.startswith("<!-- catalog-gen diff -->\n")
    # dev: 1 + 1 GPUs, 2Gi + 1Gi requested, 4Gi + 2Gi limits; phi doubles.
    assert "| dev | 0 | 0 | 1 | 2 → 3 (+1) | 3Gi → 5Gi (+2Gi) | 6Gi → 10Gi (+4Gi) |" in run.out
    assert "| sized |" not in run.out
    assert f"<summary><b>changed</b> <code>{PHI}</code>" in run.out
    assert "```diff\n--- a/Deployment/ml-workloads/ollama-phi" in run.out


def test_added_and_removed_services(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "catalog" / f"{RAG}.yaml").unlink()
    write(repo, "dev/ml-workloads/new", leaf("new", "qwen2.5:0.5b", 1, "4Gi", "8Gi"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == [("base", RAG), ("work tree", "dev/ml-workloads/new")]
    assert "# dev/ml-workloads/new: added (" in run.out
    assert "--- /dev/null\n+++ b/Deployment/ml-workloads/new\n" in run.out
    assert f"# {RAG}: removed (" in run.out
    assert "--- a/Deployment/ml-workloads/rag\n+++ /dev/null\n" in run.out
    assert run.out.index("dev/ml-workloads/new:") < run.out.index(f"{RAG}:")  # sorted by key
    markdown = diff(monkeypatch, capsys, "--base", "main", "--format", "markdown").out
    assert "| dev | 1 | 1 | 0 | 2 | 3Gi → 6Gi (+3Gi) | 6Gi → 12Gi (+6Gi) |" in markdown


def test_a_service_left_without_owner_is_a_warning_of_the_work_tree(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = repo / "catalog" / "environments" / "sized.yaml"
    text = environment.read_text(encoding="utf-8")
    assert "\nowner: group:ml-platform\n" in text
    environment.write_text(text.replace("\nowner: group:ml-platform\n", "\n"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == both(LARGE, SMALL)  # their cost label team goes
    warned = [line for line in run.err.splitlines() if ": warning: $.owner: " in line]
    assert [line.split(": warning: ")[0] for line in warned] == [
        f"catalog/{LARGE}.yaml:3:1",  # where each mapping starts, below its comments
        f"catalog/{SMALL}.yaml:2:1",
    ]
    assert all("not published to Backstage" in line for line in warned)


def test_an_environment_change_renders_all_its_services(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = repo / "catalog" / "environments" / "dev.yaml"
    text = environment.read_text(encoding="utf-8")
    assert "    numParallel: 1\n" in text
    environment.write_text(text.replace("    numParallel: 1\n", "    numParallel: 3\n"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == both(PHI, RAG)
    assert f"# {PHI}: changed" in run.out
    assert f"# {RAG}: changed" in run.out
    assert "sized/" not in run.out


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_an_argocd_change_is_reported_though_no_manifest_changes(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output_format: str,
) -> None:
    """Another cluster or revision for an environment changes no service's manifests but where
    and what every service of it deploys: the Argo CD files' diff says so."""
    environment = repo / "catalog" / "environments" / "dev.yaml"
    text = environment.read_text(encoding="utf-8")
    moved = text.replace(
        "destinationServer: https://kubernetes.default.svc",
        "destinationServer: https://other-cluster.example.com",
    ).replace("  targetRevision: main\n", "  targetRevision: v2\n")
    assert moved.count("other-cluster") == 1
    assert "targetRevision: v2" in moved
    environment.write_text(moved, encoding="utf-8")
    run = diff(monkeypatch, capsys, "--base", "main", "--format", output_format)
    assert run.code == 0, run.err
    assert run.rendered == []  # no helm input changed
    assert run.err.endswith("of them to identical manifests; 3 Argo CD files differ\n"), run.err
    assert '-        server: "https://kubernetes.default.svc"' in run.out
    assert '+        server: "https://other-cluster.example.com"' in run.out
    assert "--- a/deploy/argocd/applicationset-dev.yaml" in run.out
    # The revision moved the bootstrap Application too, which does not sync itself.
    by_hand = (
        "deploy/argocd/bootstrap-dev.yaml: the bootstrap Application does not sync itself: "
        "apply it again by hand (kubectl apply -f deploy/argocd/bootstrap-dev.yaml)\n"
    )
    if output_format == "markdown":
        assert "No service manifest changes; the Argo CD files below differ" in run.out
        assert (
            "<summary>⚠️ <b>changed</b> <code>deploy/argocd</code>: 3 changed</summary>"
        ) in run.out
        assert f"> ⚠️ {by_hand}" in run.out
    else:
        assert run.out.startswith(f"# deploy/argocd: changed (3 changed)\n! {by_hand}")


def test_a_lock_change_renders_the_services_of_that_model_only(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = repo / "catalog" / "models.lock.yaml"
    text = lock.read_text(encoding="utf-8")
    assert text.count(SMALL_DIGEST) == 1
    lock.write_text(text.replace(SMALL_DIGEST, "4" * 64), encoding="utf-8")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == both(SMALL)
    assert f"# {SMALL}: changed" in run.out
    assert SMALL_DIGEST in run.out
    assert "4" * 64 in run.out


def test_a_claim_a_lock_update_resizes_is_marked_as_refused_in_place(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """resourcesPreset auto sizes the cache from the lock: a new revision of a larger model
    changes a perReplica service's volumeClaimTemplates, which the API server refuses on the
    StatefulSet that exists; the diff says so, not only the lines that changed."""
    small = repo / "catalog" / f"{SMALL}.yaml"
    small.write_text(small.read_text(encoding="utf-8") + "cache: {mode: perReplica}\n")
    git(repo, "commit", "--quiet", "-am", "small on a claim per replica")
    lock = repo / "catalog" / "models.lock.yaml"
    text = lock.read_text(encoding="utf-8")
    bigger = text.replace(SMALL_DIGEST, "4" * 64).replace(
        "  totalSize: 4296015872\n", "  totalSize: 6443499520\n"
    )
    assert bigger.count("6443499520") == 1
    lock.write_text(bigger, encoding="utf-8")
    for output_format in ("text", "markdown"):
        run = diff(monkeypatch, capsys, "--base", "main", "--format", output_format)
        assert run.code == 0, run.err
        refusal = (
            "StatefulSet/chat/small: its volumeClaimTemplates change, which Kubernetes refuses "
            "on an existing StatefulSet (the sync fails): delete it with --cascade=orphan, "
            "resize or delete its claims, then sync"
        )
        marker = "! " if output_format == "text" else "> ⚠️ "
        assert f"{marker}{refusal}\n" in run.out, run.out[:2000]
        assert "1 service has changes the cluster refuses in place, or that delete" in run.err


def dev_does_not_prune(repo: Path) -> None:
    """Commit dev's argocd.syncPolicy.prune: false (prod's, as shipped)."""
    environment = repo / "catalog" / "environments" / "dev.yaml"
    text = environment.read_text(encoding="utf-8")
    assert "    prune: true\n" in text
    environment.write_text(text.replace("    prune: true\n", "    prune: false\n"), "utf-8")
    git(repo, "commit", "--quiet", "-am", "dev does not prune")


PHI_LEFT_RUNNING = (
    "! Deployment/ml-workloads/ollama-phi: no longer rendered, but Argo CD does not prune in "
    "dev (argocd.syncPolicy.prune: false): it stays in the cluster, running, until deleted "
    "by hand\n"
)


def test_an_object_left_running_where_argo_cd_does_not_prune_is_marked(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where argocd.syncPolicy.prune is off (prod as shipped), an object the chart stops
    rendering stays in the cluster: the comment said removed (a Deployment replaced by a
    StatefulSet keeps its GPUs)."""
    dev_does_not_prune(repo)
    phi = repo / "catalog" / f"{PHI}.yaml"
    phi.write_text(phi.read_text(encoding="utf-8") + "cache: {mode: perReplica}\n", "utf-8")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert PHI_LEFT_RUNNING in run.out


def test_a_removed_service_left_running_where_argo_cd_does_not_prune_is_marked(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leaf removed (or moved away) deletes its Application, which keeps its objects where
    the environment does not prune (preserveResourcesOnDeletion): the comment said removed
    (review)."""
    dev_does_not_prune(repo)
    git(repo, "rm", "--quiet", f"catalog/{PHI}.yaml")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert PHI_LEFT_RUNNING in run.out, run.out[:3000]


def test_the_kept_scripts_configmap_is_not_marked_left_running(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scripts ConfigMap is named by its content and says Prune=false itself (the pods of
    the previous revision still mount it): where the environment does not prune, its rename is
    the chart's design, not an object left behind by surprise, so it is not marked."""
    dev_does_not_prune(repo)
    script = repo / "charts" / "ollama-inference-load" / "files" / "lib.sh"
    script.write_text(script.read_text(encoding="utf-8") + "# a new line: a new ConfigMap\n")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert "-    argocd.argoproj.io/sync-options: Prune=false" in run.out  # it was renamed
    assert not [line for line in run.out.splitlines() if line.startswith("! ConfigMap/")]


def commit_rendered(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edits: dict[str, tuple[str, str]],
    *,
    out: str = "generated",
) -> None:
    """render into out, edit some services' values files (service: (pattern, replacement), one
    match each), and commit it all: a base whose committed values are not what this catalog-gen
    plans."""
    assert main(["render", "--no-cache", "--out", out]) == 0, capsys.readouterr().err
    for service, (pattern, replacement) in edits.items():
        values = repo / out / service / "values.yaml"
        text, count = re.subn(pattern, replacement, values.read_text(encoding="utf-8"))
        assert count == 1, text
        values.write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "rendered")
    capsys.readouterr()


def test_the_base_is_its_committed_values_where_they_differ_from_the_plan(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Argo CD deploys the base's committed values files: an older catalog-gen that wrote a
    larger cache than this one plans shrinks the claims, which the API server refuses. Planned
    afresh, the base matched the work tree, and the diff showed nothing."""
    write(
        repo, PHI, leaf("ollama-phi", "phi:latest", 1, "2Gi", "4Gi") + "cache: {mode: sharedPVC}\n"
    )
    small = repo / "catalog" / f"{SMALL}.yaml"
    small.write_text(small.read_text(encoding="utf-8") + "cache: {mode: perReplica}\n")
    size = r'(?m)^(cache:\n(?:  .*\n)*?  size: )"[^"]*"$'  # the cache's size, whatever it is
    commit_rendered(
        repo, monkeypatch, capsys, {PHI: (size, r'\1"30Gi"'), SMALL: (size, r'\1"40Gi"')}
    )
    for output_format in ("text", "markdown"):
        run = diff(monkeypatch, capsys, "--base", "main", "--format", output_format)
        assert run.code == 0, run.err
        assert run.rendered == both(PHI, SMALL)
        marker = "! " if output_format == "text" else "> ⚠️ "
        assert (
            f"{marker}PersistentVolumeClaim/ml-workloads/ollama-phi-models: its size shrinks, "
            "which Kubernetes refuses (a claim never shrinks)\n"
        ) in run.out
        assert f"{marker}StatefulSet/chat/small: its volumeClaimTemplates change" in run.out
        assert "-      storage: 30Gi\n+      storage: 20Gi\n" in run.out
        source = (
            "base: committed generated/ values (4 services, 2 of them unlike this catalog-gen's "
            "plan of main: written by an older catalog-gen or by hand), planned (0 services)"
        )
        assert f"catalog-gen: {source}\n" in run.err
        assert (source + ".\n" in run.out) == (output_format == "markdown")
        assert "2 services have changes the cluster refuses in place" in run.err


def test_a_service_without_committed_values_is_planned(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base that lacks a service's values file (new there, or generated/ not committed for
    it) falls back to the plan; a committed file the plan agrees with renders nothing."""
    commit_rendered(repo, monkeypatch, capsys, {})
    git(repo, "rm", "--quiet", "-r", f"generated/{RAG}")
    git(repo, "commit", "--quiet", "-m", "rag's values not committed")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert (run.code, run.out, run.rendered) == (0, "", [])
    assert (
        "catalog-gen: base: committed generated/ values (3 services), planned (1 service: no "
        "values file at main)\n"
    ) in run.err


def test_the_footprint_of_committed_values_is_theirs(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The GPU and memory totals of the base count what it deploys: the committed file's
    requests (3Gi), not the plan's (2Gi)."""
    requests = r'(?m)^(  requests:\n(?:    .*\n)*?    memory: )"2Gi"$'
    commit_rendered(repo, monkeypatch, capsys, {PHI: (requests, r'\1"3Gi"')}, out="elsewhere")
    run = diff(monkeypatch, capsys, "--base", "main", "--format", "markdown", "--out", "elsewhere")
    assert run.code == 0, run.err
    assert run.rendered == both(PHI)
    assert "| dev | 0 | 0 | 1 | 2 | 4Gi → 3Gi (-1Gi) | 6Gi |" in run.out
    assert "base: committed elsewhere/ values (4 services, 1 of them unlike" in run.out
    # Without --out, generated/: not in this commit, so every service is planned.
    run = diff(monkeypatch, capsys, "--base", "main")
    assert (run.code, run.out, run.rendered) == (0, "", [])
    assert "base:" not in run.err


def test_a_chart_change_renders_every_service(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = repo / "charts" / "ollama-inference-load" / "Chart.yaml"
    text = chart.read_text(encoding="utf-8")
    version = next(line for line in text.splitlines() if line.startswith("version:"))
    chart.write_text(text.replace(version, "version: 99.0.0"), encoding="utf-8")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.err
    assert run.rendered == both(PHI, RAG, LARGE, SMALL)
    headers = [line for line in run.out.splitlines() if line.startswith("# ")]
    assert [header.partition(" (")[0] for header in headers] == [
        f"# {key}: changed" for key in (PHI, RAG, LARGE, SMALL)
    ]
    assert "+    helm.sh/chart: ollama-inference-load-99.0.0\n" in run.out


def test_a_template_change_without_effect_reports_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    template = repo / "charts" / "ollama-inference-load" / "templates" / "service.yaml"
    template.write_text("{{- /* reviewed */}}\n" + template.read_text(encoding="utf-8"))
    run = diff(monkeypatch, capsys, "--base", "main", "--format", "markdown")
    assert run.code == 0, run.err
    assert run.rendered == both(PHI, RAG, LARGE, SMALL)
    assert "No manifest changes." in run.out
    assert "4 services rendered (inputs changed), 4 of them to identical manifests" in run.err


def test_two_runs_print_the_same_bytes_and_write_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, PHI, leaf("ollama-phi", "phi:latest", 3, "2Gi", "4Gi"))
    (repo / "catalog" / f"{LARGE}.yaml").unlink()
    before = git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    for output_format in ("text", "markdown"):
        first = diff(monkeypatch, capsys, "--base", "main", "--format", output_format)
        second = diff(monkeypatch, capsys, "--base", "main", "--format", output_format)
        assert first.code == second.code == 0
        assert first.out == second.out
        assert first.err == second.err
        assert first.out
    assert git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all") == before


def test_no_change_renders_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = diff(monkeypatch, capsys, "--base", "HEAD")
    assert (run.code, run.out, run.rendered) == (0, "", [])


def test_a_catalog_new_at_the_work_tree_is_all_added(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "rm", "--quiet", "-r", "--cached", "catalog")
    git(repo, "commit", "--quiet", "-m", "chart only")
    run = diff(monkeypatch, capsys, "--base", "HEAD")
    assert run.code == 0, run.err
    assert run.rendered == [("work tree", key) for key in sorted([PHI, RAG, LARGE, SMALL])]
    assert run.out.count(": added (") == 4


@pytest.mark.parametrize("ref", ["no-such-branch", "--all", "HEAD~5"])
def test_a_bad_ref_is_a_usage_error(
    ref: str, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = diff(monkeypatch, capsys, f"--base={ref}")
    assert run.code == 2
    assert "names no commit" in run.err or "is not a git revision" in run.err
    assert run.out == ""


def test_outside_git_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(FIXTURE, tmp_path / "catalog")
    monkeypatch.chdir(tmp_path)
    run = diff(monkeypatch, capsys, "--base", "main", "--chart", str(CHART))
    assert run.code == 2
    assert "is not inside a git work tree" in run.err


def test_missing_base_option_is_a_usage_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diff(monkeypatch, capsys).code == 2


def test_an_invalid_side_exits_1_with_its_problems(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = leaf("ollama-phi", "phi:latest", 1, "2Gi", "4Gi").replace("replicas:", "replica:")
    write(repo, PHI, broken)
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 1
    assert f"catalog/{PHI}.yaml:9:3: error: $.container.replica: unknown key" in run.out
    assert run.rendered == []
    git(repo, "commit", "--quiet", "-am", "broken")
    write(repo, PHI, leaf("ollama-phi", "phi:latest", 1, "2Gi", "4Gi"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 1
    assert f"main:catalog/{PHI}.yaml:9:3: error: $.container.replica: unknown key" in run.out


def test_a_committed_link_out_of_the_catalog_is_refused_on_the_base_side(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """git keeps a link as a link and the base side is extracted as one: a link out of the
    catalog (to a file of the machine running diff) is refused there as in the work tree."""
    secret = repo.parent / "credential"
    secret.write_text("serviceName: SECRET_TOKEN\n")
    link = repo / "catalog" / "dev" / "ml-workloads" / "x.yaml"
    link.symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "link")
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 1
    refusal = (
        "catalog/dev/ml-workloads/x.yaml:1:1: error: $: not read: a symbolic link to a file "
        "outside the catalog directory; "
    )
    errors = [line for line in run.out.splitlines() if ": error: " in line]
    assert [line.split("; ")[0] + "; " for line in errors] == [refusal, f"main:{refusal}"]
    assert "SECRET_TOKEN" not in run.out + run.err
    assert run.rendered == []


def test_a_committed_link_inside_the_catalog_is_read_on_the_base_side(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A relative link to a file of the catalog stays a leaf on both sides."""
    phi = repo / "catalog" / f"{PHI}.yaml"
    (repo / "catalog" / "phi.txt").write_text(phi.read_text())
    phi.unlink()
    phi.symlink_to(Path("..") / ".." / "phi.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "link")
    (repo / "catalog" / "phi.txt").write_text(leaf("ollama-phi", "phi:latest", 2, "2Gi", "4Gi"))
    run = diff(monkeypatch, capsys, "--base", "main")
    assert run.code == 0, run.out
    assert run.rendered == both(PHI)
    assert "-  replicas: 1\n+  replicas: 2\n" in run.out
