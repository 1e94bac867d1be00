"""test-models.sh (the `helm test` pod) against the Ollama double."""

from __future__ import annotations

import pytest

from tests.scripts.conftest import Pod

PHI = {"size": 40_000}
EMBED = {"size": 20_000, "kind": "embed"}


def test_every_model_answers_through_the_service(pod: Pod) -> None:
    pod.control(registry={"phi": PHI, "all-minilm": EMBED})
    pod.models(("phi", "", False, "generate"), ("all-minilm", "", False, "embed"))
    pod.derived(("terse-phi", "FROM phi\nSYSTEM Be terse.\n"))
    pod.start_server()
    for name in ("phi", "all-minilm"):
        assert pod.cli("pull", name).returncode == 0
    assert pod.cli("create", "terse-phi", "-f", str(pod.config_dir / "modelfile-0")).returncode == 0

    result = pod.run("test-models.sh")

    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if " test-models PASS " in line]
    assert [line.split(" PASS ")[1].split(":")[0] for line in passed[:3]] == [
        "phi",
        "all-minilm",
        "terse-phi",
    ]
    assert 'answered "Ready."' in passed[0]
    assert "embedding of 8 dimensions" in passed[1]


def test_missing_model_fails_without_pulling_it_on_the_server(pod: Pod) -> None:
    pod.control(registry={"phi": PHI, "tinyllama": PHI})
    pod.models(("phi", "", False, "generate"), ("tinyllama", "", False, "generate"))
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    pulls_before = pod.state()["pull_requests"]

    result = pod.run("test-models.sh")

    assert result.returncode == 1
    assert "FAIL tinyllama:latest: not available" in result.stdout
    assert "model 'tinyllama:latest' not found" in result.stdout
    assert "PASS phi:latest" in result.stdout
    assert "1 of 2 models did not answer" in result.stdout
    assert pod.state()["pull_requests"] == pulls_before


def test_unreachable_service_fails_every_model(pod: Pod) -> None:
    pod.models(("phi", "", False, "generate"))
    result = pod.run("test-models.sh")
    assert result.returncode == 1
    assert "could not connect to ollama server" in result.stdout


# What Ollama 0.32.0's `ollama run` prints (cmd/cmd.go generate: stdout not a terminal, thinking
# turned on by itself for a model with the "thinking" capability) for a model that reasons but
# answers nothing: "Thinking...", the reasoning, maybe "...done thinking.", blank lines; exit 0.
# With --hidethinking the reasoning is not printed. The double has no thinking models: a wrapper
# in front of its CLI prints what the real one does.
THINKING_ONLY = {
    "reasoning only": "Thinking...\\nThe user wants one word. I should answer ready\\n\\n\\n",
    "a blank answer": "Thinking...\\nOkay, one word.\\n...done thinking.\\n\\n\\n\\n\\n",
}


@pytest.mark.parametrize("printed", THINKING_ONLY.values(), ids=THINKING_ONLY.keys())
def test_a_thinking_model_that_answers_nothing_fails(pod: Pod, printed: str) -> None:
    pod.control(registry={"qwen3": PHI})
    pod.models(("qwen3", "", False, "generate"))
    pod.start_server()
    assert pod.cli("pull", "qwen3").returncode == 0
    path = pod.wrapped_cli(
        'if [ "$1" = run ]; then\n'
        "  case \" $* \" in *' --hidethinking '*) printf '\\n\\n' ;; *) printf "
        f"'{printed}' ;; esac\n"
        "  exit 0\n"
        "fi\n"
    )
    result = pod.run("test-models.sh", PATH=path)
    assert result.returncode == 1, result.stdout
    assert "qwen3:latest: empty answer" in result.stdout or "qwen3: empty answer" in result.stdout


def test_a_model_on_demand_is_run_with_its_own_keep_alive(pod: Pod) -> None:
    # Run with the server's keep-alive (forever, the chart's default), the helm test would keep
    # a model on demand loaded for good and crowd the runners the pod is sized for.
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate", "1s"))
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    result = pod.run("test-models.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    pod.wait_for(lambda: "phi:latest" not in pod.cli("ps").stdout, timeout=15)
