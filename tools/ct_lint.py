#!/usr/bin/env python3
"""Reproduce `ct lint` (helm/chart-testing) locally, where ct itself cannot be installed.

For every chart under the chart directories of ct.yaml:
  1. Chart.yaml validated against the yamale schema (chart_schema.yaml);
  2. yamllint with lintconf.yaml on Chart.yaml, values.yaml and ci/*-values.yaml;
  3. maintainers present (ct asks GitHub whether they exist; offline we require a name each);
  4. version bumped against the merge base with the target branch when the chart changed;
  5. `helm lint --strict` for every ci/*-values.yaml (or the defaults when there is none),
     with every pinned helm version.
Prints one line per finding and exits 1 if any; 0 when clean; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yamale
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
HELM_VERSIONS = ("3.19.0", "4.3.1")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)

    def add(self, where: Path | str, message: str) -> None:
        self.lines.append(f"{where}: {message}")


def semver_key(version: str) -> tuple[int, int, int, int, str] | None:
    match = _SEMVER.match(version)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    # A release sorts after its pre-releases.
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def check_schema(chart: Path, schema_file: Path, findings: Findings) -> None:
    schema = yamale.make_schema(str(schema_file), parser="PyYAML")
    data = yamale.make_data(str(chart / "Chart.yaml"), parser="PyYAML")
    try:
        yamale.validate(schema, data, strict=True)
    except yamale.YamaleError as error:
        for result in error.results:
            for message in result.errors:
                findings.add(chart / "Chart.yaml", f"schema: {message}")


def check_yamllint(chart: Path, config_file: Path, findings: Findings) -> None:
    config = YamlLintConfig(file=str(config_file))
    ci_values = sorted((chart / "ci").glob("*-values.yaml"))
    files = [chart / "Chart.yaml", chart / "values.yaml", *ci_values]
    for path in files:
        if not path.is_file():
            continue
        for problem in linter.run(path.read_text(), config, str(path)):
            findings.add(
                path,
                f"{problem.line}:{problem.column}: yamllint {problem.level}: "
                f"{problem.desc} ({problem.rule})",
            )


def check_maintainers(chart: Path, findings: Findings) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    maintainers = meta.get("maintainers") or []
    if not maintainers:
        findings.add(chart / "Chart.yaml", "maintainers: at least one maintainer is required")
    for index, maintainer in enumerate(maintainers):
        if not isinstance(maintainer, dict) or not str(maintainer.get("name", "")).strip():
            findings.add(chart / "Chart.yaml", f"maintainers[{index}]: a name is required")


def target_ref(repo: Path, remote: str, branch: str) -> str:
    """What ct compares with: the remote's branch (present in any clone, whatever branch is
    checked out), else the local branch of that name (a repository without the remote)."""
    remote_branch = f"{remote}/{branch}"
    found = git("rev-parse", "--verify", "--quiet", f"refs/remotes/{remote_branch}", cwd=repo)
    return remote_branch if found.returncode == 0 else branch


def check_version_bump(chart: Path, repo: Path, target_branch: str, findings: Findings) -> None:
    base = git("merge-base", target_branch, "HEAD", cwd=repo)
    if base.returncode != 0:
        findings.add(
            chart, f"version check: no merge base with {target_branch!r}: {base.stderr.strip()}"
        )
        return
    base_commit = base.stdout.strip()
    relative = chart.resolve().relative_to(repo.resolve()).as_posix()
    changed = git("diff", "--name-only", base_commit, "--", relative, cwd=repo)
    untracked = git("ls-files", "--others", "--exclude-standard", "--", relative, cwd=repo)
    if not (changed.stdout.strip() or untracked.stdout.strip()):
        return
    old = git("show", f"{base_commit}:{relative}/Chart.yaml", cwd=repo)
    if old.returncode != 0:
        return  # a new chart: nothing to bump from
    old_version = str((yaml.safe_load(old.stdout) or {}).get("version", ""))
    new_version = str((yaml.safe_load((chart / "Chart.yaml").read_text()) or {}).get("version", ""))
    old_key, new_key = semver_key(old_version), semver_key(new_version)
    if new_key is None:
        findings.add(chart / "Chart.yaml", f"version {new_version!r} is not semantic versioning")
    elif old_key is not None and new_key <= old_key:
        findings.add(
            chart / "Chart.yaml",
            f"chart changed since {target_branch} but version {new_version} is not "
            f"greater than {old_version}: bump `version`",
        )


def check_helm_lint(chart: Path, helm_dir: Path, findings: Findings) -> None:
    values_files: list[Path | None] = [*sorted((chart / "ci").glob("*-values.yaml"))] or [None]
    for version in HELM_VERSIONS:
        helm = helm_dir / version / "helm"
        if not helm.is_file():
            findings.add(helm, "missing: run `make test` or tools/bootstrap_helm.py first")
            continue
        for values in values_files:
            command = [str(helm), "lint", "--strict", str(chart)]
            if values is not None:
                command += ["--values", str(values)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                label = values.name if values else "default values"
                output = (result.stdout + result.stderr).strip().replace("\n", "\n    ")
                findings.add(chart, f"helm {version} lint --strict ({label}) failed:\n    {output}")


def lint(repo: Path, config_file: Path, helm_dir: Path, target_branch: str | None) -> Findings:
    config = yaml.safe_load(config_file.read_text()) or {}
    findings = Findings()
    schema_file = repo / config.get("chart-yaml-schema", "chart_schema.yaml")
    lint_conf = repo / config.get("lint-conf", "lintconf.yaml")
    branch = target_branch or target_ref(
        repo, config.get("remote", "origin"), config.get("target-branch", "main")
    )
    for chart_dir in config.get("chart-dirs", ["charts"]):
        for chart_yaml in sorted((repo / chart_dir).glob("*/Chart.yaml")):
            chart = chart_yaml.parent
            check_schema(chart, schema_file, findings)
            check_yamllint(chart, lint_conf, findings)
            check_maintainers(chart, findings)
            if config.get("check-version-increment", True):
                check_version_bump(chart, repo, branch, findings)
            check_helm_lint(chart, helm_dir, findings)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local equivalent of `ct lint`.")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument("--config", type=Path, help="ct config (default: <repo>/ct.yaml)")
    parser.add_argument(
        "--helm-dir",
        type=Path,
        default=REPO_ROOT / ".tools" / "helm",
        help="folder holding <version>/helm binaries (default: %(default)s)",
    )
    parser.add_argument("--target-branch", help="branch to compare chart versions against")
    args = parser.parse_args(argv)
    config_file = args.config or args.repo / "ct.yaml"
    if not config_file.is_file():
        print(f"ct_lint: error: {config_file} not found", file=sys.stderr)
        return 2
    findings = lint(args.repo, config_file, args.helm_dir, args.target_branch)
    for line in findings.lines:
        print(line)
    if findings.lines:
        print(f"ct_lint: {len(findings.lines)} problem(s)", file=sys.stderr)
        return 1
    print("ct_lint: all charts pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
