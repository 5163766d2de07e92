"""``bentoml containerize``: a bento as a complete image build context, and the command that
builds it.

The context is a copy of the bento folder (its models included, as hard links where the
filesystem allows), whose ``env/docker/Dockerfile`` was written at build time
(``environment.py``). Building needs a container engine's daemon; where none answers, the
context and the exact command are what the user gets, to build elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ..exceptions import InvalidArgument
from .bento import Bento

BACKENDS = ("docker", "buildx", "podman")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_build_context(bento: Bento, output_dir: str | None = None) -> str:
    """Copy ``bento`` into ``output_dir`` (created; it must not exist yet), or a new temporary
    directory; the context's path."""
    if output_dir is None:
        parent = tempfile.mkdtemp(prefix=f"bento-{bento.tag.name}-{bento.tag.version}-")
        context = os.path.join(parent, "context")
    else:
        context = os.path.abspath(output_dir)
        if os.path.exists(context):
            raise InvalidArgument(f"build context {context} already exists: name a new folder")
    shutil.copytree(bento.path, context, copy_function=_link_or_copy, symlinks=True)
    return context


def build_command(backend: str, context: str, image_tag: str) -> list[str]:
    """The exact command that builds ``context`` into ``image_tag`` with ``backend``."""
    dockerfile = os.path.join(context, "env", "docker", "Dockerfile")
    if backend == "docker":
        return ["docker", "build", "-f", dockerfile, "-t", image_tag, context]
    if backend == "buildx":
        return ["docker", "buildx", "build", "--load", "-f", dockerfile, "-t", image_tag, context]
    if backend == "podman":
        return ["podman", "build", "-f", dockerfile, "-t", image_tag, context]
    raise InvalidArgument(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")


@dataclass(frozen=True)
class EngineCheck:
    available: bool
    #: why not, for the user, when not
    reason: str = ""


def check_engine(backend: str) -> EngineCheck:
    """Whether ``backend``'s client is installed and its daemon answers (a few seconds at
    most)."""
    client = "podman" if backend == "podman" else "docker"
    if shutil.which(client) is None:
        return EngineCheck(False, f"{client} is not installed")
    try:
        probe = subprocess.run(
            [client, "info"], capture_output=True, timeout=15, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return EngineCheck(False, f"`{client} info` failed: {exc}")
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).strip().splitlines()
        detail = lines[-1][:300] if lines else f"exit status {probe.returncode}"
        return EngineCheck(False, f"{client}'s daemon does not answer ({detail})")
    return EngineCheck(True)
