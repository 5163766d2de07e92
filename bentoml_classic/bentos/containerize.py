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
import sys
import tempfile
from dataclasses import dataclass

from ..exceptions import BentoMLException, InvalidArgument
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


def framework_source() -> str | None:
    """The source checkout this bentoml_classic runs from, if it does (an editable or a
    development install): its pyproject.toml names the project. None when it was installed
    from an index, where the image's pip finds it too."""
    import bentoml_classic

    root = os.path.dirname(os.path.dirname(os.path.abspath(bentoml_classic.__file__)))
    pyproject = os.path.join(root, "pyproject.toml")
    try:
        with open(pyproject, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    return root if 'name = "bentoml_classic"' in text else None


def add_framework_wheel(context: str, source: str) -> str:
    """Build a wheel of ``source`` into the context's ``env/python/wheels/``, where
    ``install.sh`` finds it: ``requirements.txt`` names ``bentoml_classic``, which no public
    index serves. Its path."""
    wheels = os.path.join(context, "env", "python", "wheels")
    os.makedirs(wheels, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", wheels, source,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    built = [name for name in os.listdir(wheels) if name.startswith("bentoml_classic-")]
    if done.returncode != 0 or not built:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BentoMLException(
            f"could not build a wheel of bentoml_classic from {source}: "
            + (lines[-1][:300] if lines else f"exit status {done.returncode}")
        )
    return os.path.join(wheels, built[0])


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
