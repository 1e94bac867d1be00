"""Load groups: the chart computes them (templates/_models.tpl), the scripts only read groups.tsv.

The chart and the scripts both read model names as Ollama does (the chart to match a FROM with
`models`, the scripts to read `ollama list`/`ps`); the two readings are compared here."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, helm_binary
from tests.scripts.conftest import FILES, Pod
from tests.support.chart_env import CHART, chart_config, container_env, render_chart


def models_helper(tmp_path: Path, helper: str, items: list[str]) -> list[str]:
    """What _models.tpl's helper gives for each item (one line each), from the chart's own
    _models.tpl in a driver chart."""
    driver = tmp_path / "driver"
    (driver / "templates").mkdir(parents=True)
    (driver / "Chart.yaml").write_text("apiVersion: v2\nname: driver\nversion: 0.0.0\n")
    shutil.copyfile(CHART / "templates" / "_models.tpl", driver / "templates" / "_models.tpl")
    (driver / "templates" / "out.yaml").write_text(
        f'{{{{- range .Values.items }}}}\n# @ {{{{ include "{helper}" . }}}}\n{{{{- end }}}}\n'
    )
    result = subprocess.run(
        [str(helm_binary("3.19.0")), "template", "d", str(driver), "-f", "-"],
        input=json.dumps({"items": items}),
        capture_output=True,
        text=True,
        check=True,
    )
    return [line[4:] for line in result.stdout.splitlines() if line.startswith("# @ ")]


def chart_displays(tmp_path: Path, names: list[str]) -> list[str]:
    """oil.modelDisplay of each name."""
    return models_helper(tmp_path, "oil.modelDisplay", names)


def script_displays(names: list[str]) -> list[str]:
    """lib.sh's awk `display` of each name."""
    program = (
        '. "$1"; awk -v default_registry="$OIL_DEFAULT_REGISTRY" "$OIL_AWK_NAMES"'
        "'{ print display($0) }'"
    )
    result = subprocess.run(
        ["sh", "-c", program, "sh", str(FILES / "lib.sh")],
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def sample_names(count: int) -> list[str]:
    """Model references in every shape the grammar allows (seeded, so a failure repeats)."""
    chooser = random.Random(14)
    words = ["phi", "PHI", "Llama3", "nomic-embed-text", "m_1", "a.b", "x"]
    namespaces = ["library", "Library", "team", "TEAM", "a-b"]
    hosts = [
        "registry.ollama.ai",
        "Registry.Ollama.AI",
        "host:5000",
        "127.0.0.1:8080",
        "https://reg.example",
        "http://h:1/p",
    ]
    tags = ["", ":latest", ":LATEST", ":v1.5", ":q4_0", ":"]
    names = []
    for _ in range(count):
        name = chooser.choice(words) + chooser.choice(tags)
        if chooser.random() < 0.6:
            name = f"{chooser.choice(namespaces)}/{name}"
            if chooser.random() < 0.5:
                name = f"{chooser.choice(hosts)}/{name}"
        names.append(name)
    return names


def test_chart_and_scripts_read_names_alike(tmp_path: Path) -> None:
    names = sample_names(400)
    chart = chart_displays(tmp_path, names)
    assert len(chart) == len(names)
    assert chart == script_displays(names)
    shapes = {len(display.split("/")) for display in chart}
    assert shapes >= {1, 2, 3}, "the sample covers model, namespace/model and host/namespace/model"


def groups(values: dict[str, Any]) -> list[str]:
    lines = chart_config(values)["groups.tsv"].splitlines()
    return [line for line in lines if not line.startswith("#")]


MIXED = {
    "models": [
        {"name": "phi"},
        {"name": "registry.ollama.ai/library/nomic-embed-text:v1.5", "embedding": True},
        {"name": "host:5000/team/m:q4", "insecure": True},
        {"name": "Library/Llama3"},
    ],
    "derivedModels": [
        {"name": "terse-phi", "modelfile": '# note\n  from "phi:latest"\nSYSTEM hi\n'},
        {"name": "terser", "modelfile": "FROM terse-phi\n"},
        {"name": "gguf", "modelfile": "FROM ./weights.gguf\n"},
        {"name": "gguf2", "modelfile": "FROM gguf\n"},
        {"name": "other", "modelfile": "FROM Library/Llama3\n"},
        {"name": "emb2", "modelfile": "FROM nomic-embed-text:v1.5\n"},
        {"name": "m2", "modelfile": "FROM https://host:5000/team/m:q4\n"},
    ],
}


def test_the_chart_groups_models_that_share_weights() -> None:
    assert groups(MIXED) == [
        "terse-phi:latest\tgenerate\tfalse\tphi:latest,terse-phi:latest,terser:latest",
        "emb2:latest\tembed\tfalse\tnomic-embed-text:v1.5,emb2:latest",
        "m2:latest\tgenerate\ttrue\thost:5000/team/m:q4,m2:latest",
        "other:latest\tgenerate\tfalse\tLlama3:latest,other:latest",
        "gguf:latest\tgenerate\tfalse\tgguf:latest,gguf2:latest",
    ]
    server = container_env(MIXED)["ollama"]
    assert server["OLLAMA_MAX_LOADED_MODELS"] == "5"  # 4 models, but 5 runners


MODELFILE_FROM = REPO_ROOT / "tests" / "fixtures" / "ollama-real" / "0.32.0" / "modelfile-from.json"


def chart_parses(tmp_path: Path, modelfiles: list[str]) -> list[dict[str, Any]]:
    """oil.modelfileParse of each Modelfile ({"from", "unterminated"}: its FROM, and whether it
    ends inside a quoted value)."""
    return [json.loads(line) for line in models_helper(tmp_path, "oil.modelfileParse", modelfiles)]


def test_the_chart_reads_a_modelfile_as_ollamas_parser_reads_it(tmp_path: Path) -> None:
    """A line of a quoted SYSTEM, TEMPLATE or MESSAGE text that starts with "From" is text to
    Ollama's parser (a value runs on over line ends while its quotes are open): the chart took
    it for the FROM, refused valid leaves and put derived models in the wrong load group. A text
    that ends inside a quoted value is refused by the parser ("unexpected EOF"): the chart says
    so. The answers are Ollama 0.32.0's own parser's, recorded (tests/fixtures/ollama-real)."""
    cases = json.loads(MODELFILE_FROM.read_text())["cases"]
    found = chart_parses(tmp_path, [case["modelfile"] for case in cases])
    # Where the parser refuses the text, only that the chart sees it as unterminated counts.
    answers = [
        {"unterminated": got["unterminated"]} if "error" in case else got
        for case, got in zip(cases, found, strict=True)
    ]
    wanted = [
        {"unterminated": True} if "error" in case else {"from": case["from"], "unterminated": False}
        for case in cases
    ]
    assert [(case["modelfile"], answer) for case, answer in zip(cases, answers, strict=True)] == [
        (case["modelfile"], want) for case, want in zip(cases, wanted, strict=True)
    ]
    assert all(case["error"] == "unexpected EOF" for case in cases if "error" in case)


def test_a_modelfile_ending_inside_a_quote_is_refused(tmp_path: Path) -> None:
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [{"name": "mine", "modelfile": 'FROM phi\nSYSTEM "unterminated\n'}],
    }
    with pytest.raises(RuntimeError, match="ends inside a quoted value"):
        render_chart(json.dumps(values))


def test_a_from_line_inside_a_message_does_not_move_the_derived_model() -> None:
    values = {
        "models": [{"name": "llama3.2:3b"}, {"name": "phi"}],
        "derivedModels": [
            {
                "name": "mine",
                "modelfile": 'FROM llama3.2:3b\nMESSAGE user """Summarize:\nFrom phi\nBye"""\n',
            }
        ],
    }
    assert groups(values) == [
        "mine:latest\tgenerate\tfalse\tllama3.2:3b,mine:latest",
        "phi:latest\tgenerate\tfalse\tphi:latest",
    ]


def test_models_without_derived_ones_are_one_group_each() -> None:
    values = {"models": [{"name": n} for n in ("a", "b", "c")]}
    assert groups(values) == [f"{n}:latest\tgenerate\tfalse\t{n}:latest" for n in "abc"]
    assert "OLLAMA_MAX_LOADED_MODELS" not in container_env(values)["ollama"]


def test_a_from_spelled_otherwise_than_its_model_is_refused(tmp_path: Path) -> None:
    """`ollama create` opens the FROM model's manifest by its exact spelling (model.go
    parseFromModel, case-sensitive on Linux) while show and run ignore case: FROM Phi with
    models [phi] would pull Phi again, unpinned and unverified (or fail against a private
    registry: create's pull is never insecure). The same name with its defaults written out is
    the same manifest."""
    for spelled in ("PHI:latest", "Registry.ollama.ai/library/phi", "library/Phi"):
        values = {
            "models": [{"name": "phi"}],
            "derivedModels": [{"name": "terse", "modelfile": f"FROM {spelled}\nSYSTEM hi\n"}],
        }
        result = _helm(tmp_path, values)
        assert result.returncode != 0, spelled
        assert (
            f"derivedModels: the modelfile of terse says FROM {spelled}, which is phi spelled "
            "otherwise: ollama create finds a FROM model by its exact spelling"
        ) in result.stderr
    for spelled in ("phi", "phi:latest", "registry.ollama.ai/library/phi:latest"):
        values = {
            "models": [{"name": "phi"}],
            "derivedModels": [{"name": "terse", "modelfile": f"FROM {spelled}\n"}],
        }
        assert _helm(tmp_path, values).returncode == 0, spelled
    # Ollama's parser keeps the last FROM line: a first one spelled right does not hide it.
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [{"name": "terse", "modelfile": "FROM phi\nFROM Phi\n"}],
    }
    assert (
        "the modelfile of terse says FROM Phi, which is phi spelled"
        in _helm(tmp_path, values).stderr
    )
    # A derived model FROM another derived model: that one's own spelling.
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [
            {"name": "Terse", "modelfile": "FROM phi\n"},
            {"name": "terser", "modelfile": "FROM terse\n"},
        ],
    }
    result = _helm(tmp_path, values)
    assert "the modelfile of terser says FROM terse, which is Terse spelled otherwise" in (
        result.stderr
    )


def test_max_loaded_models_below_the_groups_is_refused(tmp_path: Path) -> None:
    values = {**MIXED, "ollama": {"maxLoadedModels": 4}}
    result = _helm(tmp_path, values)
    assert result.returncode != 0
    assert "ollama.maxLoadedModels is 4 but the models form 5 load groups" in result.stderr
    assert render_chart(json.dumps({**MIXED, "ollama": {"maxLoadedModels": 5}}))


def test_modelfile_problems_are_refused_at_render(tmp_path: Path) -> None:
    values = {
        "models": [{"name": "phi"}, {"name": "PHI:latest"}],
        "derivedModels": [
            {"name": "a", "modelfile": "FROM b\n"},
            {"name": "b", "modelfile": "FROM a\n"},
        ],
    }
    result = _helm(tmp_path, values)
    assert result.returncode != 0
    for message in (
        "the FROM chain of a loops",
        "the FROM chain of b loops",
        "models: PHI:latest is listed twice",
    ):
        assert message in result.stderr


def test_a_from_chain_ending_at_a_model_not_configured_is_refused(tmp_path: Path) -> None:
    # ollama create would pull it itself: unpinned, unverified, without the entry's insecure
    # flag, and not counted by pull-models' summary.
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [
            {"name": "terse", "modelfile": "FROM llama3\nSYSTEM hi\n"},
            {"name": "terser", "modelfile": "FROM terse\n"},
            {"name": "fine", "modelfile": "FROM phi\n"},
            {"name": "weights", "modelfile": "FROM /models/x.gguf\n"},
        ],
    }
    result = _helm(tmp_path, values)
    assert result.returncode != 0
    for name in ("terse", "terser"):
        assert (
            f"derivedModels: the FROM chain of {name} ends at llama3:latest, which is neither in "
            "models nor a derivedModels entry: ollama create would pull it itself, unpinned and "
            "unverified; add it to models (with its digest where models are pinned)"
        ) in result.stderr
    assert "chain of fine" not in result.stderr
    assert "chain of weights" not in result.stderr
    # A FROM naming the derived model itself is no file of its own weights: refused too.
    itself = {"models": [{"name": "phi"}], "derivedModels": [
        {"name": "llama3", "modelfile": "FROM Llama3:latest\nSYSTEM hi\n"}]}  # fmt: skip
    result = _helm(tmp_path, itself)
    assert result.returncode != 0
    assert (
        "derivedModels: llama3 is built FROM itself: ollama create would pull Llama3:latest from "
        "its registry, unpinned and unverified, and build over it; name the model it derives from"
    ) in result.stderr
    configured = {**values, "models": [{"name": "phi"}, {"name": "llama3"}]}
    assert render_chart(json.dumps(configured))


def test_a_modelfile_without_from_is_refused_by_the_schema(tmp_path: Path) -> None:
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [{"name": "c", "modelfile": "SYSTEM x\n"}],
    }
    result = _helm(tmp_path, values)
    assert result.returncode != 0
    assert "/derivedModels/0/modelfile" in result.stderr


def _helm(tmp_path: Path, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary("3.19.0")), "template", "r", str(CHART), "-f", "-"],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=False,
    )


def plan(pod: Pod) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", '. "$1" && oil_plan', "sh", str(FILES / "lib.sh")],
        env=pod.env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_the_scripts_take_groups_and_kinds_from_groups_tsv(pod: Pod) -> None:
    pod.models(("phi", "", False, "generate"), ("all-minilm", "", False, "embed"))
    pod.derived(("terse-phi", "FROM phi\n"), ("small-embed", "FROM all-minilm\n"))
    records = plan(pod).stdout.splitlines()
    assert [r.split("\t")[0:2] + r.split("\t")[-1:] for r in records if r[0] == "D"] == [
        ["D", "terse-phi", "generate"],
        ["D", "small-embed", "embed"],
    ]
    assert [r.split("\t")[2] for r in records if r[0] == "G"] == [
        "terse-phi:latest",
        "small-embed:latest",
    ]


@pytest.mark.parametrize(
    ("groups_tsv", "error"),
    [
        ("phi:latest\tgenerate\tfalse\tphi:latest\n", '"terse-phi" is in no load group'),
        (
            "phi:latest\tgenerate\tfalse\tphi:latest,terse-phi\nterse-phi\tgenerate\tfalse\tTERSE-PHI\n",
            '"TERSE-PHI" is also in the group of line 1',
        ),
        ("phi:latest\tgenerate\tfalse\tterse-phi\n", 'load "phi:latest" is not a member'),
        ("phi:latest\trerank\tfalse\tphi,terse-phi\n", "kind must be generate or embed"),
        ("phi:latest\tgenerate\tfalse\t\n", "no members"),
    ],
)
def test_a_groups_tsv_that_misses_or_repeats_a_model_is_refused(
    pod: Pod, groups_tsv: str, error: str
) -> None:
    pod.models(("phi", "", False, "generate"))
    pod.derived(("terse-phi", "FROM phi\n"))
    (pod.config_dir / "groups.tsv").write_text(groups_tsv)
    for script in ("pull-models.sh", "probe-ready.sh", "test-models.sh"):
        result = pod.run(script)
        assert result.returncode == 2, result.stdout
        assert error in result.stdout
    assert "server_pid" not in pod.state()
