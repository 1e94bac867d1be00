"""fields.GIT_REVISION, the environment's argocd.targetRevision, against git itself: a revision
catalog-gen accepts is one `git check-ref-format --allow-onelevel` accepts, and the other way
round (a name git refuses could never be a branch or tag Argo CD follows)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from catalog_gen.fields import GIT_REVISION
from tests.support.chart_env import REPO_ROOT
from tests.unit.helpers import leaf, make_catalog, run_cli

GIT = shutil.which("git")
# Characters around every rule: the forbidden ones, the ones only some places forbid, plain ones.
_ALPHABET = ["a", "b", ".", "/", "@", "{", "}", "-", " ", "~", "^", ":", "?", "*", "[", "\\"]
_ALPHABET += ["\t", "\x7f", "é", ".lock", "..", "0"]
_NAMES = [
    "main", "HEAD", "v1.2.3", "refs/heads/main", "feature/x", "main-{{", "{{ .service }}",
    "0123456789abcdef0123456789abcdef01234567", "@", "@x", "x@", "a@{b", "my branch", "-b",
    ".hidden", "a/.b", "a.lock", "a.lock/b", "a.lockx", "a..b", "a/", "/a", "a.", "a//b", "é",
]  # fmt: skip


def _git_accepts(name: str) -> bool:
    """git's verdict; a name starting with '-' is an option to it (refused, as by us)."""
    assert GIT is not None
    found = subprocess.run(
        [GIT, "check-ref-format", "--allow-onelevel", name], capture_output=True, check=False
    )
    return found.returncode == 0


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_pattern_accepts_what_git_accepts() -> None:
    generator = random.Random(13)
    names = [*_NAMES]
    names += ["".join(generator.choices(_ALPHABET, k=generator.randint(1, 6))) for _ in range(300)]
    pattern = re.compile(GIT_REVISION)
    differ = [name for name in names if (pattern.fullmatch(name) is not None) != _git_accepts(name)]
    assert differ == []


def test_a_revision_argo_cd_could_not_follow_is_refused_where_it_is_written(
    tmp_path: Path,
) -> None:
    environments = REPO_ROOT / "catalog" / "environments"
    catalog = make_catalog(tmp_path, {"dev/ml/a.yaml": leaf(name="a")}, environments=environments)
    environment = catalog / "environments" / "dev.yaml"
    text = environment.read_text()
    assert "  targetRevision: main\n" in text, "the repository's dev environment names its revision"
    environment.write_text(text.replace("targetRevision: main", 'targetRevision: "my branch"'))
    result = run_cli(tmp_path, "validate")
    assert result.code == 1
    line = text[: text.index("targetRevision: main")].count("\n") + 1
    assert re.search(
        rf"environments/dev\.yaml:{line}:19: error: \$\.argocd\.targetRevision: must be a branch",
        result.stdout,
    ), result.stdout
