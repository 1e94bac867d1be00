"""What may differ between the real `ollama` and the double for the same step, and nothing else.

Each normalization names the reason it is needed; everything not listed here must match byte
for byte (after the recorder's placeholders: registry address, folders, host).

- Terminal drawing (stderr of pull/create/rm/stop/run): the CLI redraws its progress lines every
  100 ms with cursor movements (progress/progress.go), so the bytes depend on timing. The final
  screen does not: stderr is replayed through a small terminal (cursor up, column 1, erase line)
  and the resulting lines are compared.
- Digests: the double's model has other bytes than the recorded one (random weights), so each
  64-hex digest and 12-hex ID becomes `<digest-N>`, numbered by first appearance in the whole
  run; a digest that recurs (a derived model sharing weights) must recur in the same places.
- Times: `modified_at`, `expires_at`, `created_at` and the human forms `N seconds ago`,
  `N minutes from now`: wall-clock dependent.
- Durations: `*_duration` fields of generate/embed answers, and the server log's latencies.
- Sizes: the model's byte size (SIZE column, `size`, `size_vram`, progress bar totals): the
  double's weights are not the recorded GGUF.
- Table padding of `list`/`ps`: trailing blanks after the last column (its width follows the
  longest time text). Row order of `ollama list`: models are listed newest first, but models
  written within the same second come in either order (two recordings of 0.32.0 showed both),
  so the rows are
  sorted before comparing.
- Model-dependent numbers: the generated text (random weights), the embedding values and the
  prompt's token count (`prompt_eval_count`: the recorded GGUF's tokenizer is not the double's).
"""

from __future__ import annotations

import json
import re
from typing import Any

_ANSI = re.compile(r"\x1b\[(\??)([0-9;]*)([A-Za-z])")
_HEX64 = re.compile(r"(?<![0-9a-f])(?:sha256[:-])?([0-9a-f]{64})(?![0-9a-f])")
_HEX12 = re.compile(r"(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")
_AGO = re.compile(
    r"(?:Less than a second|About a minute|An hour|\d+ (?:seconds?|minutes?|hours?)) ago"
)
_FROM_NOW = re.compile(
    r"(?:Less than a second|About a minute|\d+ (?:seconds?|minutes?|hours?)) from now"
)
_SIZE = re.compile(r"\b\d+(?:\.\d+)? ?(?:B|KB|MB|GB|TB)\b")
_TIME_KEYS = {"modified_at", "expires_at", "created_at"}
_SIZE_KEYS = {"size", "size_vram", "total", "completed"}


def screen(text: str) -> str:
    """The lines a terminal shows after `text` (ANSI cursor movement applied)."""
    lines: list[str] = [""]
    row = col = 0
    pos = 0
    while pos < len(text):
        match = _ANSI.match(text, pos)
        if match:
            private, number, command = match.groups()
            if not private:
                if command == "A":
                    row = max(0, row - int(number or 1))
                elif command == "G":
                    col = int(number or 1) - 1
                elif command == "K":
                    lines[row] = lines[row][:col] if number in ("", "0") else ""
            pos = match.end()
            continue
        char = text[pos]
        pos += 1
        if char == "\n":
            row += 1
            col = 0
            if row == len(lines):
                lines.append("")
        elif char == "\r":
            col = 0
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + char + line[col + 1 :]
            col += 1
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


def table(text: str, sort_rows: bool) -> str:
    """A `list`/`ps` table: trailing blanks dropped (the last column, MODIFIED or UNTIL, is as
    wide as its longest time text, which depends on the clock); `list` rows sorted (names
    first, before digests get their labels, so labels follow names, not order)."""
    lines = [line.rstrip() for line in text.split("\n")]
    if sort_rows and len(lines) > 2:
        lines = [lines[0], *sorted(line for line in lines[1:] if line), ""]
    return "\n".join(lines)


class Normalizer:
    """One per run (real or double): digest labels are numbered across the run's steps."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}

    def _label(self, hex12: str) -> str:
        return self.labels.setdefault(hex12, f"<digest-{len(self.labels) + 1}>")

    def text(self, value: str) -> str:
        value = _HEX64.sub(lambda m: self._label(m.group(1)[:12]), value)
        value = _HEX12.sub(lambda m: self._label(m.group(1)), value)
        value = _AGO.sub("<ago>", value)
        value = _FROM_NOW.sub("<from-now>", value)
        return _SIZE.sub("<size>", value)

    def data(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.data(v, k) for k, v in value.items()}
        if isinstance(value, list):
            if key == "embeddings" or (value and all(isinstance(v, float) for v in value)):
                return "<vector>"
            return [self.data(v, key) for v in value]
        if key in _TIME_KEYS:
            return "<time>"
        if key.endswith("_duration") or (key in _SIZE_KEYS and isinstance(value, int)):
            return f"<{'duration' if key.endswith('_duration') else 'size'}>"
        if key in ("response", "thinking") and value:
            return "<text>"
        if key == "prompt_eval_count":
            return "<count>"
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, raw: str, content_type: str) -> Any:
        if "json" not in content_type:
            return self.text(raw)
        lines = [line for line in raw.splitlines() if line.strip()]
        try:
            parsed = [json.loads(line) for line in lines]
        except ValueError:
            return self.text(raw)
        return [self.data(item) for item in parsed]

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        if "cli" in record:
            stdout = record["stdout"]  # no terminal codes on stdout: compared as written
            if record["cli"][0] in ("list", "ls", "ps"):
                stdout = table(stdout, sort_rows=record["cli"][0] != "ps")
            stdout = self.text(stdout)
            return {
                "exit_code": record["exit_code"],
                "stdout": stdout,
                "stderr": self.text(screen(record["stderr"])),
            }
        return {
            "status": record["status"],
            "content_type": record["content_type"],
            "body": self.body(record["body"], record["content_type"]),
        }
