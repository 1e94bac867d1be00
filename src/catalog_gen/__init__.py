"""catalog-gen: validate Ollama inference catalog leaves and render Helm values and GitOps files."""

__version__ = "0.1.0"
