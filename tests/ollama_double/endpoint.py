"""OLLAMA_HOST, read as envconfig.Host reads it: `[scheme://]host[:port]`, default
`127.0.0.1:11434` (../shared/notes/ollama.md "Server environment")."""

from __future__ import annotations

# The double's CLI imports this on every call: only what a call needs (see cli.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def parse_host(value: str | None) -> tuple[str, int]:
    text = (value or "").strip() or "127.0.0.1:11434"
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "11434")
    return (host or "127.0.0.1"), int(port or 11434)


def proxy_for(host: str, port: int, environ: Mapping[str, str]) -> tuple[str, int] | None:
    """Where the ollama CLI's requests to http://host:port go: Go's http.ProxyFromEnvironment
    (golang.org/x/net/http/httpproxy, behind the http.DefaultClient the CLI uses) sends them
    to HTTP_PROXY (else http_proxy) unless host is `localhost` or a loopback IP or NO_PROXY
    (else no_proxy) names it. The unspecified 0.0.0.0 is not loopback: a proxy takes it.
    None: straight to host."""
    proxy = environ.get("HTTP_PROXY") or environ.get("http_proxy") or ""
    if not proxy or host == "localhost" or _is_loopback(host):
        return None
    no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if any(_no_proxy_matches(entry, host, port) for entry in no_proxy.split(",")):
        return None
    return _proxy_address(proxy)


def _proxy_address(proxy: str) -> tuple[str, int]:
    """host and port of a proxy URL (httpproxy parseProxy: a bare host:port is http://; an
    http proxy's port defaults to 80)."""
    text = proxy if "://" in proxy else "http://" + proxy
    where = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if where.startswith("["):
        host, _, rest = where[1:].partition("]")
        port = rest[1:]
    else:
        host, _, port = where.partition(":")
    return host, int(port or 80)


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _no_proxy_matches(entry: str, host: str, port: int) -> bool:
    """One NO_PROXY entry as httpproxy reads it: `*`, a CIDR, an IP or a domain (which also
    covers its subdomains; a leading `.` or `*.` only them), each maybe with a port."""
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    if "/" in entry:
        import ipaddress

        try:
            return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry, False)
        except ValueError:
            return False
    name, _, wanted = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if wanted and wanted != str(port):
        return False
    host = host.lower()
    if name.startswith("*."):
        name = name[1:]
    if name.startswith("."):
        return host.endswith(name)
    return host == name or host.endswith("." + name)
