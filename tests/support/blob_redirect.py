"""A front for Debian's docker-registry that redirects blob downloads, as registry.ollama.ai does.

Ollama's downloader (server/download.go, blobDownload.run) asks the registry for a blob and
requires a `307 Temporary Redirect` to another host name (a CDN): a registry that serves the
blob itself with `200 OK`, as docker-registry with filesystem storage does, fails every pull of a
missing blob with `http: no Location header in response` (recorded in
tests/fixtures/ollama-real/; upstream ollama/ollama#7244, open PRs #9737 and #15512). This front
forwards GET and HEAD to the registry and answers `GET /v2/.../blobs/<digest>` with a 307 to the
same path on `localhost:<registry port>`: a different host name for the same registry, which is
what a redirecting registry looks like to Ollama. Read-only: pushes go to the registry itself.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive"}


class _Handler(BaseHTTPRequestHandler):
    upstream_port = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if "/blobs/sha256:" in self.path:
            self.send_response(307)
            self.send_header("Location", f"http://localhost:{self.upstream_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._forward("GET")

    def do_HEAD(self) -> None:
        self._forward("HEAD")

    def _forward(self, method: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, self.path, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() in _HOP_BY_HOP or (key.lower() == "content-length" and method == "GET"):
                continue
            self.send_header(key, value)
        if method == "GET":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "GET":
            self.wfile.write(data)


class BlobRedirect:
    """Serves on 127.0.0.1:<port> in a thread; `host` is the registry part of model names."""

    def __init__(self, upstream_port: int) -> None:
        handler = type("Handler", (_Handler,), {"upstream_port": upstream_port})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
