"""Kubernetes helpers for the tests: the same rendering and strict validation `make run` uses.

The code lives in tools/kube_validate.py (see its docstring for the API); tests import it from
here so that a test reads `from tests.support.kube import validate_manifests`.
"""

from tools.kube_validate import (
    KUBE_VERSIONS,
    Document,
    HelmError,
    apiserver_errors,
    helm_template,
    helm_template_text,
    load_documents,
    select,
    validate_manifests,
)

__all__ = [
    "KUBE_VERSIONS",
    "Document",
    "HelmError",
    "apiserver_errors",
    "helm_template",
    "helm_template_text",
    "load_documents",
    "select",
    "validate_manifests",
]
