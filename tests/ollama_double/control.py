"""Fault injection switches (a JSON control file) and the double's counters (a JSON state file).

Both are files so that a test can change faults while the server runs (the server re-reads the
control file on every request) and read counters after the server process is gone.

Control file (`OLLAMA_DOUBLE_CONTROL`), every key optional:

| key | effect |
|---|---|
| `registry` | `{reference: {size, kind, family, plain_http, tensor, manifest_ends_at}}`: upstream |
| `start_delay_s` | `ollama serve` binds its port only after this many seconds |
| `never_start` | `ollama serve` runs but never binds its port |
| `tags_error` | `GET /api/tags` answers 500 with this error (a store the server cannot read) |
| `pull_failures` | `{reference: K}`: the first K pulls of that model fail; `-1` = all fail |
| `pull_error` | message of those failures (default: a registry i/o timeout, as Go prints it) |
| `republished` | `[reference]`: the registry serves another revision (another digest) |
| `disk_full_after_bytes` | a pull fails with ENOSPC after writing this many bytes |
| `pull_stalls` | `{reference: K}`: the first K pulls stall (`-1` = all) until the client leaves |
| `pull_stall_after_bytes` | where a stalled pull stops (default 0: before the first blob byte) |
| `verify_delay_s` | "verifying sha256 digest" takes this long (a large model on a slow volume) |
| `bandwidth_bytes_per_s` | download rate of blob bytes |
| `load_delay_s` | a model load takes this long |
| `generate_delay_s` | a generation (a prompt to `/api/generate`) takes this long |
| `evict_after_s` | a finished load expires after this many seconds (overrides keep-alive) |
| `unload_delay_s` | an expired model shows `Stopping...` in `ollama ps` this long before it goes |
| `ps_delay_s` | `GET /api/ps` answers only after this many seconds (a server too busy to answer) |
| `ps_lists_loading` | `ollama ps` lists a model from the start of its load (Ollama before 0.30.0) |

A registry entry's `manifest_ends_at` pads the manifest's JSON to end at that byte, a line break
after it (what Ollama lists then: store.py `listed_digest`).

State file (`OLLAMA_DOUBLE_STATE`) counters: `server_pid`, `server_starts`, `pull_requests`,
`pull_attempts` {display: n}, `pull_insecure` {display: n}, `manifest_requests`,
`bytes_downloaded`, `pull_stalls` {display: n}, `pull_stalls_abandoned` {display: n},
`load_requests` {display: n}, `loads_completed` {display: n},
`loads_aborted`, `embed_requests`, `generate_requests`, `create_requests`, `delete_requests`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tests.ollama_double.store import atomic_write_json

CONTROL_ENV = "OLLAMA_DOUBLE_CONTROL"
STATE_ENV = "OLLAMA_DOUBLE_STATE"


class Control:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        if self.path is None or not self.path.is_file():
            return {}
        data = json.loads(self.path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: the control file must hold a JSON object")
        return data

    def number(self, key: str) -> float | None:
        value = self.read().get(key)
        return None if value is None else float(value)


class State:
    """Counters, persisted after every change; a restarted server keeps counting."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {}
        if path is not None and path.is_file():
            self.data = json.loads(path.read_text())

    def add(self, key: str, amount: int = 1, item: str | None = None) -> int:
        with self.lock:
            if item is None:
                self.data[key] = int(self.data.get(key, 0)) + amount
                value = int(self.data[key])
            else:
                table = self.data.setdefault(key, {})
                table[item] = int(table.get(item, 0)) + amount
                value = int(table[item])
            self._save()
            return value

    def set(self, key: str, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self._save()

    def _save(self) -> None:
        if self.path is not None:
            atomic_write_json(self.path, self.data)


def control_from_env() -> Control:
    value = os.environ.get(CONTROL_ENV)
    return Control(Path(value) if value else None)


def state_from_env() -> State:
    value = os.environ.get(STATE_ENV)
    return State(Path(value) if value else None)
