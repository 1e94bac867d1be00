"""An Ollama server that dies mid-answer, as a test stand-in: `HEAD /` (the CLI's first
request) answered, then every other request answered with a body cut before its end and the
connection closed. The same server recorded the real CLI's answer
(tests/fixtures/ollama-real/0.32.0/cut-answers.json), and the double's CLI must give it too."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

# A chunked NDJSON stream (what /api/pull answers) without its last, empty chunk.
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'1e\r\n{"status":"pulling manifest"}\n\r\n'
    b'4b\r\n{"status":"pulling abc","digest":"sha256:abc","total":1000,"completed":10}\n\r\n'
)
# A JSON body (what /api/tags answers) shorter than its Content-Length.
SHORT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 500\r\n\r\n"
    b'{"models":[{"name":"phi:latest","model":"phi:latest"'
)
ANSWERS = {"chunked": CHUNKED, "content-length": SHORT}


@contextlib.contextmanager
def cut_server(cut: str) -> Iterator[str]:
    """Serves on loopback while the block runs; yields the OLLAMA_HOST to dial it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)  # accept() wakes to see the block ended (close() would not wake it)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                received = connection.recv(65536)
                if not received:
                    return
                request += received
            if request.startswith(b"HEAD "):
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            else:
                connection.sendall(ANSWERS[cut])

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed: the block ended
                return
            connection.settimeout(None)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
