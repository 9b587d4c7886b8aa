#!/usr/bin/env python3
"""The project's two entry points, needing nothing but Python 3.11:

    python3 dev.py demo     # install into .venv, then run the main job (claimstream demo)
    python3 dev.py test     # install into .venv (with test tools), then lint and run every test

Installing is skipped when .venv already holds the same setup.py and constraints.
Extra arguments go to the command: `python3 dev.py test -k parse`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".claimstream-install"
INSTALL_INPUTS = ("setup.py", "constraints.txt")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "install"):
        print(__doc__)
        return 2
    if sys.version_info[:2] != (3, 11):
        print(f"dev.py: Python 3.11 is required, this is {sys.version.split()[0]}", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    install(with_tests=command == "test")
    if command == "demo":
        return run([BIN / "claimstream", "demo", *rest])
    if command == "test":
        ensure_debian_packages()
        lint = run([BIN / "ruff", "check", "."])
        if lint:
            return lint
        return run([BIN / "python", "-m", "pytest", *rest])
    return 0


def install(with_tests: bool) -> None:
    """Create .venv and install the package (editable) with pinned dependencies."""
    extras = "[test]" if with_tests else ""
    fingerprint = hashlib.sha256(extras.encode())
    for name in INSTALL_INPUTS:
        fingerprint.update((ROOT / name).read_bytes())
    wanted = fingerprint.hexdigest()
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if wanted in installed or (not with_tests and installed):
        # A test install also serves the demo.
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.create(VENV, with_pip=True)
    print("dev.py: installing claimstream and its pinned dependencies into .venv", flush=True)
    pip = [BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    check(pip + ["install", "-c", ROOT / "constraints.txt", "-e", f"{ROOT}{extras}"])
    STAMP.write_text(wanted + "\n")


#: Debian packages some tests need (none ship a Python wheel): `docker-compose config`
#: validates the compose file offline; stunnel puts TLS in front of the embedded
#: broker; redis-server backs the shared story index.
TEST_PACKAGES = {"docker-compose": "docker-compose", "stunnel4": "stunnel4", "redis-server": "redis-server"}


def ensure_debian_packages() -> None:
    """Install the test's Debian packages that are missing, when we may (root with apt)."""
    missing = [package for command, package in TEST_PACKAGES.items() if shutil.which(command) is None]
    if not missing or shutil.which("apt-get") is None or os.geteuid() != 0:
        return
    print(f"dev.py: installing Debian's {', '.join(missing)} for the tests", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    subprocess.run(["apt-get", "update", "-qq"], **quiet, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], **quiet, check=False)


def run(command: list) -> int:
    return subprocess.run([str(c) for c in command], cwd=ROOT).returncode


def check(command: list) -> None:
    code = run(command)
    if code:
        sys.exit(f"dev.py: failed ({code}): {' '.join(map(str, command))}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
