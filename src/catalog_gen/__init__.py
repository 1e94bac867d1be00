"""catalog-gen: validate Ollama inference catalog leaves and render Helm values and GitOps files."""

__version__ = "0.1.0"

# How a Ctrl-C ends a command, wherever it lands: here, where both the command line (cli.py)
# and the entry point that imports it (__main__.py, before cli can answer) read it.
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
INTERRUPTED = "catalog-gen: interrupted; no output was left half-written\n"
