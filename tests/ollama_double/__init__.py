"""A faithful stand-in for Ollama (server and CLI) for testing the chart's lifecycle scripts.

Never shipped. `install(bin_dir)` writes an `ollama` executable that behaves like the real CLI
for the subcommands the scripts use; `ollama serve` runs the double's HTTP server. Every
behaviour cites the fact it reproduces (../shared/notes/ollama.md and the ollama/ollama source):
see names.py, store.py, server.py, cli.py; fault switches and counters: control.py.
"""

from __future__ import annotations

import os
import sys

# Imported by every `ollama` call of the tests: no pathlib at run time (it costs more than the
# rest of the call's imports).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def install(bin_dir: Path) -> Path:
    """Writes `bin_dir/ollama` (to be put first on PATH) and returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    executable = bin_dir / "ollama"
    executable.write_text(
        f"#!{sys.executable} -SE\n"
        "import sys\n"
        f"sys.path.insert(0, {_REPO_ROOT!r})\n"
        "from tests.ollama_double.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    executable.chmod(0o755)
    return executable
