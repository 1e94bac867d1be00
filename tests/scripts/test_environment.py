"""One owner for every setting the scripts read: the chart's values.yaml.

The scripts carry no defaults. Each one names the variables it needs (`oil_require` in its
head); these tests check that the list covers every variable the script and the lib.sh helpers
it calls read, that the script refuses to start without any of them (exit 2, naming it), that
the chart sets every one in the container that runs the script, and that the table of
docs/interfaces.md section 2 says what the chart renders."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.scripts.conftest import FILES, Pod
from tests.support.chart_env import CHART, container_env, render_chart

SCRIPTS = ("pull-models.sh", "probe-ready.sh", "probe-live.sh", "test-models.sh")
DOCS = REPO_ROOT / "docs" / "interfaces.md"
SETTING = re.compile(r"\$\{?((?:OIL|OLLAMA)_[A-Z0-9_]+)")
ASSIGNED = re.compile(r"(?:^|[;&|()!])[ \t]*((?:OIL|OLLAMA)_[A-Z0-9_]+)=", re.MULTILINE)
# A shell function of lib.sh: `name() {` to the `}` that a blank line or the end follows (the
# awk programs inside close their blocks at column 0 too, never before a blank line).
FUNCTION = re.compile(r"^(\w+)\(\) \{\n(.*?)^\}\n(?=\n|\Z)", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"^[ \t]*#.*$", re.MULTILINE)


def required(script: str) -> list[str]:
    """The variables of the script's `oil_require` line (continuations joined)."""
    text = (FILES / script).read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^oil_require (.+)$", text, re.MULTILINE)
    return str(line).split()


def read_settings(script: str) -> set[str]:
    """Variables the script reads that neither it nor lib.sh assigns: its own code, lib.sh's
    top level and every lib.sh function it calls, directly or through another."""
    lib = COMMENT.sub("", (FILES / "lib.sh").read_text())
    own = COMMENT.sub("", (FILES / script).read_text())
    functions = {name: body for name, body in FUNCTION.findall(lib)}
    top_level = FUNCTION.sub("", lib)
    code, pending, seen = own + top_level, [own + top_level], set()
    while pending:
        for name in re.findall(r"\b(oil_\w+)\b", pending.pop()):
            if name in functions and name not in seen:
                seen.add(name)
                code += functions[name]
                pending.append(functions[name])
    assigned = set(ASSIGNED.findall(lib + own))
    # The ollama CLI, which every script runs, reads OLLAMA_HOST (which the probes may rewrite
    # for the CLI, lib.sh oil_connectable_host: still a setting the chart must give).
    assert re.search(r"\bollama (list|ps|run|pull|show)\b", code)
    return (set(SETTING.findall(code)) - assigned) | {"OLLAMA_HOST"}


def scripts_of_containers() -> dict[str, set[str]]:
    """Container name -> the lifecycle scripts its command and probes run (rendered chart)."""
    found: dict[str, set[str]] = {}
    for document in render_chart("{}"):
        if document["kind"] not in ("Deployment", "Pod"):
            continue
        spec = document["spec"].get("template", document)["spec"]
        for item in [*spec.get("initContainers", []), *spec["containers"]]:
            text = yaml.safe_dump(item)
            found[item["name"]] = {s for s in SCRIPTS if f"/{s}" in text}
    return found


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_script_requires_every_setting_it_reads(script: str) -> None:
    reads = read_settings(script)
    assert "OIL_CONFIG_DIR" in reads or script == "probe-live.sh"  # the scan finds settings
    assert reads == set(required(script)), f"{script}: oil_require must list exactly {reads}"


def test_no_script_carries_a_default() -> None:
    settings = "|".join(sorted({v for s in SCRIPTS for v in required(s)}))
    for name in (*SCRIPTS, "lib.sh"):
        text = (FILES / name).read_text()
        # The one assignment allowed: the probes' rewrite of a given OLLAMA_HOST (0.0.0.0 to
        # loopback, after oil_require): it maps the chart's value, never supplies one.
        text = FUNCTION.sub(
            lambda found: "" if found[1] == "oil_connectable_host" else found[0], text
        )
        assert not re.findall(rf"\$\{{({settings}):?[-=+?]", text), name
        assert not re.findall(rf"(?:^|[;&|()!])[ \t]*({settings})=", text, re.MULTILINE), name


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_missing_setting_is_named_and_nothing_starts(pod: Pod, script: str) -> None:
    for variable in required(script):
        result = _run_without(pod, script, variable)
        assert result.returncode == 2, f"{script} ran without {variable}: {result.stdout}"
        assert f"configuration: {variable} is not set" in result.stdout
        assert "server_pid" not in pod.state(), f"{script} started a server without {variable}"


def test_every_missing_setting_is_named_in_one_run(pod: Pod) -> None:
    result = _run_without(pod, "pull-models.sh", *required("pull-models.sh"))
    assert result.returncode == 2
    named = re.findall(r"configuration: (\w+) is not set", result.stdout)
    assert named == required("pull-models.sh")


def _run_without(pod: Pod, script: str, *variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in pod.env.items() if k not in variables}
    return subprocess.run(
        ["sh", str(FILES / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_chart_sets_every_setting_of_every_script_it_runs() -> None:
    environments = container_env({})
    runs = scripts_of_containers()
    assert {s for scripts in runs.values() for s in scripts} == set(SCRIPTS)
    for container, scripts in runs.items():
        for script in scripts:
            missing = set(required(script)) - set(environments[container])
            assert not missing, f"container {container} runs {script} without {missing}"


def docs_table() -> dict[str, list[str]]:
    """docs/interfaces.md section 2's variable table: variable -> its other cells."""
    section = DOCS.read_text().split("## 2.")[1].split("## 3.")[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\| `((?:OIL|OLLAMA)_[A-Z0-9_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def chart_sources(variable: str) -> set[str]:
    """The values a template renders VARIABLE from; a value line without one is followed into
    the helper it includes (one level)."""
    templates = "".join(p.read_text() for p in sorted((CHART / "templates").rglob("*.*")))
    sources: set[str] = set()
    for value in re.findall(rf"- name: {variable}\n\s*value: (.*)", templates):
        direct = set(re.findall(r"\.Values\.([\w.]+)", value))
        for helper in [] if direct else re.findall(r'include "([\w.]+)"', value):
            body = templates.split(f'define "{helper}"')[1].split("{{- end }}\n\n")[0]
            direct |= set(re.findall(r"\.Values\.([\w.]+)", body))
        sources |= direct
    return sources


def test_docs_table_matches_the_chart_and_the_scripts() -> None:
    table = docs_table()
    wanted = {v for s in SCRIPTS for v in required(s)}
    assert set(table) == wanted, "docs/interfaces.md section 2 must list every variable"
    environments = container_env({})
    for variable, (used_by, _meaning, chart_value, default) in table.items():
        users = {s for s in SCRIPTS if variable in required(s)}
        assert set(re.findall(r"`([\w-]+\.sh)`", used_by)) == users, variable
        assert set(re.findall(r"`([\w.]+)`", chart_value)) == chart_sources(variable), variable
        if not chart_sources(variable):
            assert chart_value == "(fixed)", variable
        rendered = {env[variable] for env in environments.values() if variable in env}
        if len(rendered) == 1:
            assert default == f"`{rendered.pop()}`", variable
        else:
            assert "per container" in default, variable


def test_docs_default_is_values_yaml_for_a_plain_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    table = docs_table()
    checked = 0
    for variable, (_used, _meaning, _chart_value, default) in table.items():
        sources = sorted(chart_sources(variable))
        if len(sources) != 1:
            continue
        (source,) = sources
        node = values
        for part in source.split("."):
            node = node[part]
        if isinstance(node, int):  # bool too: written as values.yaml writes it
            shown = json.dumps(node)
            assert default == f"`{shown}`", f"{variable}: values.yaml {source} is {shown}"
            checked += 1
    assert checked >= 10


def test_lifecycle_values_map_to_distinct_variables() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    sources = {v: chart_sources(v) for v in docs_table()}
    used = {s for found in sources.values() for s in found}
    assert {f"lifecycle.{key}" for key in values["lifecycle"]} <= used
