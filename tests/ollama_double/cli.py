"""The double's `ollama` executable: the subcommands the lifecycle scripts use.

Facts reproduced (../shared/notes/ollama.md "CLI behaviour"; ollama/ollama cmd/cmd.go,
cmd/start_default.go, api/client.go, progress/), pinned to recordings of the real binary by
tests/scripts/test_double_contract.py (docs/field-trial.md):
- Errors print `Error: <message>` on stderr and exit 1. Every command but `serve` first sends
  `HEAD /`; with no server that fails at once with "could not connect to ollama server, run
  'ollama serve' to start it" (no retry, no timeout of its own).
- An answer cut before its end (a chunked stream without its last chunk, a body shorter than
  its Content-Length: a server that died mid-answer) prints `Error: unexpected EOF`, exit 1
  (recorded: tests/fixtures/ollama-real/0.32.0/cut-answers.json).
- Error text: a non-streamed call prints the server's `error`; a streamed call (pull, create,
  generate) that got an HTTP error prints `<code> <reason>: <error>`; an `{"error"}` line in an
  HTTP 200 stream prints the message alone.
- `list`/`ps` print a tablewriter table without borders: header NAME ID SIZE MODIFIED
  (ps: NAME ID SIZE PROCESSOR CONTEXT UNTIL), cells left-aligned and padded, each followed by
  four spaces, but the header's last cell by one; ID is the first 12 hex of the digest; an optional
  argument filters by name prefix. PROCESSOR is `100% CPU` when nothing is in VRAM; UNTIL is
  `Forever`, `N minutes from now`, or `Stopping...` once the expiry has passed.
- `pull [--insecure] NAME` draws ANSI progress on stderr (spinners and bars, hidden cursor) and
  always contacts the server's /api/pull.
- `show NAME` exits 1 with `Error: model 'NAME:TAG' not found` when absent; otherwise prints
  the Model table (architecture, parameters, context length, embedding length, quantization)
  and Capabilities.
- `cp SRC DST` prints `copied 'SRC' to 'DST'`.
- `run NAME [PROMPT] [--keepalive D] [--insecure]`: reads stdin when it is not a terminal (and
  prepends it to the prompt), calls /api/show and pulls the model when that answers 404, then:
  embedding models need a non-empty prompt ("embedding models require input text") and print
  the vector as JSON; other models go to /api/generate (an empty prompt only loads). A
  `--keepalive` without a unit fails (`time: missing unit in duration`).
- `create NAME -f FILE`: the Modelfile is parsed client-side into /api/create fields.
- `rm NAME...`: unloads (generate, keep_alive 0), deletes, prints `deleted 'NAME'`.
- `stop NAME`: unloads.
"""

from __future__ import annotations

# Every `ollama` call of a test starts a Python process: only what a call needs is imported
# (a raw socket client instead of http.client, which alone doubles the start-up time; typing
# names only for the type checker).
import _socket
import json
import os
import sys
import time
from datetime import datetime

from tests.ollama_double.endpoint import parse_host, proxy_for
from tests.ollama_double.gotime import DurationError, human_bytes, human_time, parse_go_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

NO_SERVER = "could not connect to ollama server, run 'ollama serve' to start it"
EMBED_NEEDS_INPUT = 'embedding models require input text. Usage: ollama run {} "your text here"'


class CliError(Exception):
    pass


class StatusError(CliError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Response:
    """One HTTP/1.1 response read off a socket: status, headers, then the body as it arrives
    (Content-Length, chunked, or up to the server closing the connection)."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.closed = False
        status_line = self._line()
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise CliError(f"malformed HTTP status line: {status_line!r}")
        self.status = int(parts[1])
        self.reason = parts[2].strip() if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        while line := self._line().strip():
            key, _, value = line.decode("latin-1").partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self.remaining = (
            int(self.headers["content-length"]) if "content-length" in self.headers else None
        )
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = 0

    def _fill(self) -> bool:
        if self.closed:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            if not self._fill():
                line, self.buffer = self.buffer, b""
                return line
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size and self._fill():
            pass
        piece, self.buffer = self.buffer[:size], self.buffer[size:]
        return piece

    def chunks(self) -> Iterator[bytes]:
        """The body's pieces; a body cut before its end (a chunked stream without its last,
        empty chunk, or fewer bytes than Content-Length: a server that died mid-answer) raises
        "unexpected EOF" as Go's readers do (net/http/internal/chunked.go, io.ReadFull), which
        the real CLI prints and exits 1 on."""
        if self.chunked:
            while True:
                line = self._line()
                if not line.endswith(b"\n"):
                    raise CliError("unexpected EOF")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                piece = self._take(size)
                if len(piece) < size:
                    raise CliError("unexpected EOF")
                yield piece
                self._take(2)
        elif self.remaining is not None:
            while self.remaining > 0:
                piece = self._take(min(self.remaining, 65536))
                if not piece:
                    raise CliError("unexpected EOF")
                self.remaining -= len(piece)
                yield piece
        else:
            if self.buffer:
                yield self.buffer
                self.buffer = b""
            while self._fill():
                yield self.buffer
                self.buffer = b""

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def lines(self) -> Iterator[bytes]:
        pending = b""
        for piece in self.chunks():
            pending += piece
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                yield line
        if pending:
            yield pending


class Client:
    def __init__(self) -> None:
        # OLLAMA_HOST as given (envconfig.Host, not ConnectableHost): 0.0.0.0 reaches the local
        # server directly, but Go's proxy settings see 0.0.0.0, not a loopback address.
        host, port = parse_host(os.environ.get("OLLAMA_HOST"))
        self.proxy = proxy_for(host, port, os.environ)
        self.host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        self.port = port
        self.target = (self.host, self.port) if self.proxy is None else self.proxy
        # Through a proxy the request line names the whole URL (as Go's transport writes it).
        self.prefix = "" if self.proxy is None else f"http://{host}:{port}"

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Response:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nConnection: close\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        sock = _socket.socket()
        try:
            sock.connect(self.target)
            sock.sendall(head.encode() + b"\r\n" + payload)
            return Response(sock)
        except OSError as error:
            sock.close()
            raise CliError(NO_SERVER) from error

    def heartbeat(self) -> None:
        response = self._send("HEAD", "/", None)
        response.sock.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._send(method, path, body)
        data = response.read()
        response.sock.close()
        if response.status >= 400:
            try:
                message = json.loads(data).get("error", "")
            except ValueError:
                message = data.decode(errors="replace")
            raise StatusError(response.status, message)
        return json.loads(data) if data else None

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        response = self._send("POST", path, body)
        try:
            for raw in response.lines():
                line = raw.strip()
                if not line:
                    continue
                item = json.loads(line)
                if response.status >= 400:
                    raise StatusError(
                        response.status,
                        f"{response.status} {response.reason}: {item.get('error', '')}",
                    )
                if item.get("error"):
                    raise CliError(str(item["error"]))
                yield item
        finally:
            response.sock.close()


TERM_WIDTH = 80  # progress.defaultTermWidth: stderr is never a terminal in a pod


def bar_line(message: str, current: int, total: int) -> str:
    """progress/bar.go Bar.String() without a rate (the final frame, and the double's frames)."""
    percent = 100.0 if total <= 0 else min(100.0, 100.0 * current / total)
    pre = f"{message.strip()} {percent:3.0f}%"
    total_text = human_bytes(total)
    if current >= total:
        suffix = " " * (6 - len(total_text)) + total_text + " " * 7
    else:
        current_text = human_bytes(current)
        suffix = " " * (6 - len(current_text)) + current_text + "/"
        suffix += " " * (6 - len(total_text)) + total_text
    suffix += " " * 18
    width = TERM_WIDTH - len(pre) - len(suffix) - 5
    filled = int(width * percent / 100)
    return pre + " \u2595" + "\u2588" * filled + " " * max(0, width - filled) + "\u258f " + suffix


class Progress:
    """progress/progress.go on stderr: a list of states (spinners, then one bar per layer)
    redrawn in place; `stop()` stops the spinners, draws the final frame and a newline.
    The handlers of pull and create (cmd/cmd.go): a response with a digest and completed > 0
    gets a bar `pulling <12 hex>:`; any other response whose status changed gets a spinner."""

    SPINNER = "\u280b"

    def __init__(self) -> None:
        self.out = sys.stderr
        self.states: list[
            list[Any]
        ] = []  # ["spinner", message, stopped] | ["bar", msg, cur, total]
        self.bars: dict[str, list[Any]] = {}
        self.status = ""
        self.pos = 0

    def _stop_spinners(self) -> None:
        for state in self.states:
            if state[0] == "spinner":
                state[2] = True

    def update(self, item: dict[str, Any]) -> None:
        digest = str(item.get("digest") or "")
        if digest:
            completed = int(item.get("completed") or 0)
            if completed == 0:
                return
            self._stop_spinners()
            bar = self.bars.get(digest)
            if bar is None:
                name = digest.removeprefix("sha256:").strip()[:12]
                bar = ["bar", f"pulling {name}:", completed, int(item.get("total") or 0)]
                self.bars[digest] = bar
                self.states.append(bar)
            bar[2] = min(completed, bar[3])
        elif item.get("status") != self.status:
            self._stop_spinners()
            self.status = str(item.get("status", ""))
            self.states.append(["spinner", self.status, False])
        self.render()

    def _line(self, state: list[Any]) -> str:
        if state[0] == "bar":
            return bar_line(state[1], state[2], state[3])
        text = f"{state[1].strip()} " if state[1] else ""
        return text if state[2] else text + self.SPINNER + " "

    def render(self) -> None:
        frame = "\033[?2026h\033[?25l" + "\033[A" * max(0, self.pos - 1) + "\033[1G"
        frame += "\n".join(self._line(state) + "\033[K" for state in self.states)
        self.pos = len(self.states)
        self.out.write(frame + "\033[?25h\033[?2026l")
        self.out.flush()

    def stop(self) -> None:
        self._stop_spinners()
        self.render()
        self.out.write("\n")
        self.out.flush()


def table(header: list[str], rows: list[list[str]]) -> str:
    """tablewriter v0.0.5 as cmd/cmd.go sets it up (no border, no header line, left aligned,
    SetNoWhiteSpace, padding of four spaces): every cell is padded to its column's width and
    followed by the padding, except the header's last cell, which gets one space."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    last = len(header) - 1
    lines = [
        "".join(c.ljust(widths[i]) + (" " if i == last else "    ") for i, c in enumerate(header))
    ]
    for row in rows:
        lines.append("".join(cell.ljust(widths[i]) + "    " for i, cell in enumerate(row)))
    return "\n".join(lines) + "\n"


def seconds_until(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - time.time()


def cmd_list(client: Client, args: list[str]) -> int:
    models = client.call("GET", "/api/tags")["models"]
    rows = [
        [
            m["name"],
            m["digest"][:12],
            human_bytes(int(m["size"])),
            human_time(seconds_until(m["modified_at"]), "Never"),
        ]
        for m in models
        if not args or m["name"].lower().startswith(args[0].lower())
    ]
    sys.stdout.write(table(["NAME", "ID", "SIZE", "MODIFIED"], rows))
    return 0


def cmd_ps(client: Client, args: list[str]) -> int:
    models = client.call("GET", "/api/ps")["models"]
    rows = []
    for m in models:
        if args and not m["name"].startswith(args[0]):
            continue
        left = seconds_until(m["expires_at"])
        until = "Stopping..." if left < 0 else human_time(left, "Never")
        processor = "100% CPU" if int(m["size_vram"]) == 0 else "100% GPU"
        rows.append(
            [
                m["name"],
                m["digest"][:12],
                human_bytes(int(m["size"])),
                processor,
                str(m["context_length"]),
                until,
            ]
        )
    sys.stdout.write(table(["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"], rows))
    return 0


def take_flag(args: list[str], flag: str, with_value: bool) -> tuple[list[str], str | None]:
    rest: list[str] = []
    value: str | None = None
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == flag:
            if with_value:
                if index + 1 >= len(args):
                    raise CliError(f"flag needs an argument: {flag}")
                value = args[index + 1]
                index += 2
                continue
            value = "true"
        elif with_value and arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
        elif not with_value and arg == flag + "=true":
            value = "true"
        else:
            rest.append(arg)
        index += 1
    return rest, value


def pull(client: Client, name: str, insecure: bool) -> None:
    progress = Progress()
    try:
        for item in client.stream("/api/pull", {"model": name, "insecure": insecure}):
            progress.update(item)
    finally:
        progress.stop()


def cmd_pull(client: Client, args: list[str]) -> int:
    args, insecure = take_flag(args, "--insecure", with_value=False)
    if len(args) != 1:
        raise CliError(f"accepts 1 arg(s), received {len(args)}")
    pull(client, args[0], insecure == "true")
    return 0


def show_section(header: str, rows: list[list[str]]) -> str:
    """cmd.go showInfo's tableRender: `  <header>`, a borderless table whose first column is
    empty (so every row starts with the four-space padding), then an empty line."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["".join(c.ljust(widths[i]) + "    " for i, c in enumerate(row)) for row in rows]
    return f"  {header}\n" + "".join(line + "\n" for line in lines) + "\n"


def cmd_show(client: Client, args: list[str]) -> int:
    args, modelfile = take_flag(args, "--modelfile", with_value=False)
    if len(args) != 1:
        raise CliError(f"accepts 1 arg(s), received {len(args)}")
    info = client.call("POST", "/api/show", {"model": args[0]})
    if modelfile:
        sys.stdout.write(info["modelfile"])
        return 0
    details, model_info = info["details"], info.get("model_info") or {}
    arch = str(model_info.get("general.architecture", ""))
    rows = [["", "architecture", arch]] if arch else []
    if details.get("parameter_size"):
        rows.append(["", "parameters", str(details["parameter_size"])])
    for key in ("context_length", "embedding_length"):
        if f"{arch}.{key}" in model_info:
            rows.append(["", key.replace("_", " "), str(model_info[f"{arch}.{key}"])])
    rows.append(["", "quantization", str(details.get("quantization_level", ""))])
    out = show_section("Model", rows)
    if info.get("capabilities"):
        out += show_section("Capabilities", [["", str(c)] for c in info["capabilities"]])
    if info.get("parameters"):
        params = [["", *line.split()] for line in str(info["parameters"]).splitlines() if line]
        out += show_section("Parameters", params)
    sys.stdout.write(out)
    return 0


def cmd_run(client: Client, args: list[str]) -> int:
    args, keepalive = take_flag(args, "--keepalive", with_value=True)
    args, _hide_thinking = take_flag(args, "--hidethinking", with_value=False)
    args, insecure = take_flag(args, "--insecure", with_value=False)
    if not args:
        raise CliError("requires at least 1 arg(s), only received 0")
    name, prompts = args[0], args[1:]
    keep_alive: Any = None
    if keepalive is not None:
        try:
            seconds = parse_go_duration(keepalive)
        except DurationError as error:
            raise CliError(str(error)) from error
        keep_alive = -1 if seconds < 0 else f"{seconds}s"
    if not sys.stdin.isatty():
        piped = sys.stdin.read()
        if piped:
            prompts = [piped, *prompts]
    prompt = " ".join(prompts)
    try:
        info = client.call("POST", "/api/show", {"model": name})
    except StatusError as error:
        if error.status != 404:
            raise
        pull(client, name, insecure == "true")
        info = client.call("POST", "/api/show", {"model": name})
    if "embedding" in info.get("capabilities", []):
        if not prompt:
            raise CliError(EMBED_NEEDS_INPUT.format(name))
        body: dict[str, Any] = {"model": name, "input": prompt}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        answer = client.call("POST", "/api/embed", body)
        if not answer["embeddings"]:
            raise CliError("no embeddings returned")
        sys.stdout.write(json.dumps(answer["embeddings"][0], separators=(",", ":")) + "\n")
        return 0
    request: dict[str, Any] = {"model": name, "prompt": prompt}
    if keep_alive is not None:
        request["keep_alive"] = keep_alive
    for item in client.stream("/api/generate", request):
        sys.stdout.write(str(item.get("response", "")))
    sys.stdout.write("\n" if prompt else "")
    sys.stdout.flush()
    return 0


def parse_modelfile(text: str) -> dict[str, Any]:
    """FROM, PARAMETER, SYSTEM, TEMPLATE, MESSAGE, ADAPTER, LICENSE; values may be quoted or in
    triple quotes spanning lines; commands are case-insensitive."""
    request: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    messages: list[dict[str, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        command, _, value = line.partition(" ")
        command = command.upper()
        role = ""
        if command == "MESSAGE":  # MESSAGE <role> <value>: the value is quoted like any other
            role, _, value = value.strip().partition(" ")
            if role not in ("system", "user", "assistant"):
                raise CliError('message role must be one of "system", "user", or "assistant"')
        value = value.strip()
        if value.startswith('"""'):
            # Ollama's parser ends the value where the text read so far ends with """.
            value = value[3:]
            while not value.rstrip().endswith('"""'):
                if index >= len(lines):
                    raise CliError("unexpected EOF")
                value += "\n" + lines[index]
                index += 1
            value = value.rstrip()[:-3]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if command == "FROM":
            request["from"] = value
        elif command == "PARAMETER":
            key, _, raw = value.partition(" ")
            parameters[key] = _parameter_value(raw.strip())
        elif command in ("SYSTEM", "TEMPLATE"):
            request[command.lower()] = value
        elif command == "LICENSE":  # several LICENSE lines make a list, as in Ollama
            request.setdefault("license", []).append(value)
        elif command == "MESSAGE":
            messages.append({"role": role, "content": value})
        elif command == "ADAPTER":
            raise CliError("the Ollama double does not support ADAPTER")
        else:
            raise CliError(
                f'command must be one of "from", "license", "template", "system", '
                f'"adapter", "parameter", or "message": {command.lower()}'
            )
    if "from" not in request:
        raise CliError("no FROM line")
    if parameters:
        request["parameters"] = parameters
    if messages:
        request["messages"] = messages
    return request


def _parameter_value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    if not raw.startswith('"'):
        return raw
    import shlex  # only Modelfiles with quoted parameters need it

    return shlex.split(raw)[0]


def cmd_create(client: Client, args: list[str]) -> int:
    args, path = take_flag(args, "-f", with_value=True)
    if len(args) != 1:
        raise CliError(f"accepts 1 arg(s), received {len(args)}")
    modelfile = path or "Modelfile"
    if not os.path.isfile(modelfile):
        raise CliError("specified Modelfile wasn't found")
    with open(modelfile, encoding="utf-8") as handle:
        request = parse_modelfile(handle.read())
    if str(request["from"]).startswith((".", "/", "~")):
        raise CliError("the Ollama double does not support FROM a file")
    request["model"] = args[0]
    progress = Progress()
    # CreateHandler shows this spinner while it reads the Modelfile's files, before the request.
    progress.update({"status": "gathering model components"})
    try:
        for item in client.stream("/api/create", request):
            progress.update(item)
    finally:
        progress.stop()
    return 0


def unload(client: Client, name: str) -> None:
    client.call("POST", "/api/generate", {"model": name, "keep_alive": 0, "stream": False})


def cmd_rm(client: Client, args: list[str]) -> int:
    if not args:
        raise CliError("requires at least 1 arg(s), only received 0")
    for name in args:
        try:
            unload(client, name)
        except StatusError as error:
            if "not found" not in str(error).lower():
                sys.stderr.write(f"Warning: unable to stop model '{name}'\n")
        client.call("DELETE", "/api/delete", {"model": name})
        sys.stdout.write(f"deleted '{name}'\n")
    return 0


def cmd_cp(client: Client, args: list[str]) -> int:
    if len(args) != 2:
        raise CliError(f"accepts 2 arg(s), received {len(args)}")
    client.call("POST", "/api/copy", {"source": args[0], "destination": args[1]})
    sys.stdout.write(f"copied '{args[0]}' to '{args[1]}'\n")
    return 0


def cmd_stop(client: Client, args: list[str]) -> int:
    if len(args) != 1:
        raise CliError(f"accepts 1 arg(s), received {len(args)}")
    try:
        unload(client, args[0])
    except StatusError as error:
        if "not found" in str(error):
            raise CliError(f'couldn\'t find model "{args[0]}" to stop') from error
        raise
    return 0


COMMANDS: dict[str, Callable[[Client, list[str]], int]] = {
    "list": cmd_list,
    "ls": cmd_list,
    "ps": cmd_ps,
    "pull": cmd_pull,
    "show": cmd_show,
    "run": cmd_run,
    "create": cmd_create,
    "rm": cmd_rm,
    "stop": cmd_stop,
    "cp": cmd_cp,
}


def main(argv: list[str]) -> int:
    if argv and argv[0] == "serve":
        # Imported here: every other subcommand starts faster without the server's modules.
        from tests.ollama_double.server import serve

        return serve()
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write(f'Error: unknown command "{argv[0] if argv else ""}" for "ollama"\n')
        return 1
    client = Client()
    try:
        client.heartbeat()
        return COMMANDS[argv[0]](client, argv[1:])
    except CliError as error:
        sys.stderr.write(f"Error: {error}\n")
        return 1
    except BrokenPipeError:
        return 1
