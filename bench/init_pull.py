"""Benchmark: time-to-ready of the init container (pull-models.sh) against the proof of concept's
fixed-sleep approach, and bytes pulled on a warm restart, with the Ollama double serving at a
given bandwidth and server start delay.

    .venv/bin/python bench/init_pull.py [--model-mb 100] [--bandwidth-mb-s 25]
                                        [--start-delay-s 1.5] [--poc-sleep-s 10]

The proof of concept ran `ollama serve & sleep N; ollama pull MODEL` on an emptyDir, so it
slept a fixed time whatever the server did and downloaded the model again on every restart.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.ollama_double import install  # noqa: E402 - needs the repository on sys.path
from tests.support.chart_env import chart_config, chart_settings  # noqa: E402
from tests.support.net import free_port  # noqa: E402

FILES = REPO_ROOT / "charts" / "ollama-inference-load" / "files"
MODEL = "bench-model:7b"

POC_SCRIPT = """\
ollama serve >/dev/null 2>&1 &
server=$!
sleep "$POC_SLEEP"
ollama pull "$MODEL" 2>/dev/null
status=$?
kill "$server"
wait "$server"
exit "$status"
"""


def bytes_downloaded(state: Path) -> int:
    if not state.is_file():
        return 0
    return int(json.loads(state.read_text()).get("bytes_downloaded", 0))


def run(command: list[str], env: dict[str, str], state: Path) -> tuple[float, int, int]:
    """(seconds, exit status, bytes downloaded) of one init container run."""
    before = bytes_downloaded(state)
    start = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - start, result.returncode, bytes_downloaded(state) - before


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-mb", type=float, default=100.0)
    parser.add_argument("--bandwidth-mb-s", type=float, default=25.0)
    parser.add_argument("--start-delay-s", type=float, default=1.5)
    parser.add_argument("--poc-sleep-s", type=float, default=10.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-init-pull-") as folder:
        root = Path(folder)
        bin_dir = root / "bin"
        install(bin_dir)
        config = root / "config"
        config.mkdir()
        for name, text in chart_config({"models": [{"name": MODEL}]}).items():
            (config / name).write_text(text)
        control = root / "control.json"
        control.write_text(
            json.dumps(
                {
                    "registry": {MODEL: {"size": int(args.model_mb * 1e6)}},
                    "bandwidth_bytes_per_s": args.bandwidth_mb_s * 1e6,
                    "start_delay_s": args.start_delay_s,
                }
            )
        )
        state = root / "state.json"
        (root / "tmp").mkdir()
        base = chart_settings() | {
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(root),
            "TMPDIR": str(root / "tmp"),
            "OLLAMA_HOST": f"127.0.0.1:{free_port()}",
            "OLLAMA_DOUBLE_CONTROL": str(control),
            "OLLAMA_DOUBLE_STATE": str(state),
            "OIL_CONFIG_DIR": str(config),
            "OIL_STATE_DIR": str(root / "tmp" / "ollama-inference-load"),
            "OIL_POLL_INTERVAL_SECONDS": "0.5",
            "POC_SLEEP": str(args.poc_sleep_s),
            "MODEL": MODEL,
        }
        ours = [str(FILES / "pull-models.sh")]
        poc = ["-c", POC_SCRIPT]
        rows = []
        cache = {**base, "OLLAMA_MODELS": str(root / "cache")}
        rows.append(("pull-models.sh, cold cache", *run(["sh", *ours], cache, state)))
        rows.append(("pull-models.sh, warm restart", *run(["sh", *ours], cache, state)))
        for attempt in ("cold cache", "restart (emptyDir: cache lost)"):
            fresh = {**base, "OLLAMA_MODELS": str(root / f"poc-{len(rows)}")}
            rows.append((f"proof of concept, {attempt}", *run(["sh", *poc], fresh, state)))

    print(
        f"model {args.model_mb:g} MB at {args.bandwidth_mb_s:g} MB/s, server start delay "
        f"{args.start_delay_s:g} s, proof-of-concept sleep {args.poc_sleep_s:g} s"
    )
    print(f"{'init container run':<48} {'time-to-ready':>14} {'exit':>5} {'bytes pulled':>14}")
    for label, seconds, status, pulled in rows:
        print(f"{label:<48} {seconds:>12.2f} s {status:>5} {pulled:>14,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
