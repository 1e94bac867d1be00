"""A small local HTTP server for the cases a real registry will not produce on demand: token
auth challenges, 429/5xx, slow answers, tampered digests, malformed manifests, redirects.

Routes map a request path (without query) to a queue of replies; the last reply repeats. A path
with no route is forwarded to the upstream registry when there is one, so the server can also
stand in front of the real docker-registry as a token-auth gateway.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    # A list sends the header once per value, in order (a repeated header).
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    delay: float = 0.0
    # Bytes the Content-Length promises beyond the body, never sent: the connection is closed
    # after the body (an answer cut short).
    missing: int = 0


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class TokenGate:
    """Registry token auth: every forwarded request needs `Bearer <token>` for its scope."""

    realm: str
    service: str = "scripted-registry"
    basic: tuple[str, str] | None = None  # credentials the token endpoint demands
    issued: list[str] = field(default_factory=list)

    def challenge(self, repository: str) -> Reply:
        scope = f"repository:{repository}:pull"
        value = f'Bearer realm="{self.realm}",service="{self.service}",scope="{scope}"'
        return Reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": value})


CDN_PREFIX = "/cdn"  # where route_blob serves a blob's bytes


class ScriptedServer:
    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.routes: dict[str, list[Reply | Callable[[Seen], Reply]]] = {}
        self.seen: list[Seen] = []
        self.upstream = upstream
        self.gate: TokenGate | None = None
        self.connections = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                with owner._lock:
                    owner.connections += 1
                super().setup()

            def do_GET(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        with self._lock:
            self.routes[path] = list(replies)

    def route_blob(self, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        """A blob as Ollama's pull needs it served: path redirects (307) to this server under
        another host name (localhost), where replies answer: blob storage on a CDN."""
        self.route(path, Reply(307, b"", {"Location": f"{self.cdn_url}{CDN_PREFIX}{path}"}))
        self.route(CDN_PREFIX + path, *replies)

    @property
    def cdn_url(self) -> str:
        """This server under another host name than url's."""
        return f"http://localhost:{self._server.server_address[1]}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def enable_token_auth(self, basic: tuple[str, str] | None = None) -> TokenGate:
        self.gate = TokenGate(realm=f"{self.url}/token", basic=basic)
        return self.gate

    def _next(self, path: str) -> Reply | Callable[[Seen], Reply] | None:
        with self._lock:
            queue = self.routes.get(path)
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        seen = Seen(
            parsed.path,
            urllib.parse.parse_qs(parsed.query),
            {k.lower(): v for k, v in handler.headers.items()},
        )
        with self._lock:
            self.seen.append(seen)
        reply = self._reply_for(seen, handler)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            handler.send_response(reply.status)
            for name, values in reply.headers.items():
                for value in values if isinstance(values, list) else [values]:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body) + reply.missing))
            handler.end_headers()
            handler.wfile.write(reply.body)
            if reply.missing:
                handler.wfile.flush()
                handler.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            return

    def _reply_for(self, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        gate = self.gate
        if gate is not None and seen.path == "/token":
            return self._token(seen, gate)
        scripted = self._next(seen.path)
        if scripted is not None:
            return scripted(seen) if callable(scripted) else scripted
        if gate is not None and seen.path.startswith("/v2/") and seen.path != "/v2/":
            repository = seen.path[len("/v2/") :].rsplit("/", 2)[0]
            if seen.headers.get("authorization") not in {f"Bearer {t}" for t in gate.issued}:
                return gate.challenge(repository)
        if self.upstream is not None:
            return self._forward(handler)
        return Reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no route"}]}')

    def _token(self, seen: Seen, gate: TokenGate) -> Reply:
        if gate.basic is not None:
            expected = "Basic " + base64.b64encode(":".join(gate.basic).encode()).decode()
            if seen.headers.get("authorization") != expected:
                return Reply(401, b'{"details":"bad credentials"}')
        if seen.query.get("service") != [gate.service] or not seen.query.get("scope"):
            return Reply(400, b'{"details":"service and scope required"}')
        token = f"token-{len(gate.issued)}"
        gate.issued.append(token)
        return Reply(
            200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"}
        )

    def _forward(self, handler: BaseHTTPRequestHandler) -> Reply:
        assert self.upstream is not None
        if "/blobs/sha256:" in handler.path:
            # A redirect to another host name for the blob, as Ollama's pull needs
            # (tests/support/blob_redirect.py); the token stays here.
            where = f"http://localhost:{self.upstream[1]}{handler.path}"
            return Reply(307, b"", {"Location": where})
        connection = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            headers = {"Accept": handler.headers.get("Accept", "*/*")}
            connection.request("GET", handler.path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            passed: dict[str, str | list[str]] = {
                name: value
                for name, value in response.getheaders()
                if name.lower() in {"content-type", "docker-content-digest", "location"}
            }
            return Reply(response.status, body, passed)
        finally:
            connection.close()
