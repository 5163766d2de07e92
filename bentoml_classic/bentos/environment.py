"""A bento's ``env/``: ``env/python/`` (what pip installs) and ``env/docker/`` (the Dockerfile and
the entrypoint that ``bentoml containerize`` builds with).

The Dockerfile is written at build time from bentofile.yaml's ``docker:`` and ``python:``
sections, so a bento copied anywhere is a complete build context: ``docker build -f
env/docker/Dockerfile <bento folder>``.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from pathlib import Path

from .. import __version__
from ..exceptions import InvalidArgument
from .bentofile import BentoBuildConfig

#: where the image holds the bento, and the user that serves it (never root)
IMAGE_BENTO_PATH = "/home/bentoml/bento"
IMAGE_USER = "bentoml"
#: numeric, so that Kubernetes' runAsNonRoot can check it
IMAGE_UID = 1034
IMAGE_PORT = 3000
#: the entrypoint's first arguments that name a command run on the bento
ENTRY_COMMANDS = ("serve", "serve-http", "start-http-server", "start-runner-server", "serve-grpc")

_ENTRYPOINT = """#!/usr/bin/env bash
# Serve this bento: `bentoml serve` on it, or the command given first (start-http-server,
# start-runner-server, serve-grpc, serve) with the rest of the arguments; anything else runs as
# given. BENTO_PATH defaults to the folder two levels up, so this runs from a copied context too.
set -euo pipefail
BENTO_PATH="${BENTO_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
host=()
if [ -n "${BENTOML_HOST:-}" ]; then host=(--host "$BENTOML_HOST"); fi
command="${1:-serve}"
case "$command" in
  serve|serve-http|start-http-server|start-runner-server|serve-grpc)
    [ "$#" -gt 0 ] && shift
    [ "$command" = serve-http ] && command=serve
    exec bentoml "$command" "$BENTO_PATH" "${host[@]}" "$@" ;;
  -*)
    exec bentoml serve "$BENTO_PATH" "${host[@]}" "$@" ;;
  *)
    exec "$@" ;;
esac
"""

logger = logging.getLogger(__name__)


def write_python_env(config: BentoBuildConfig, build_ctx: str, env_dir: str) -> None:
    """``requirements.txt``, ``version.txt``, ``install.sh`` and any ``wheels/``."""
    python_dir = Path(env_dir, "python")
    python_dir.mkdir(parents=True)
    options = config.python
    (python_dir / "version.txt").write_text(config.python_version() + "\n")
    lines = [f"--index-url {options.index_url}"] if options.index_url else []
    lines += ["--no-index"] if options.no_index else []
    lines += [f"--extra-index-url {url}" for url in options.extra_index_url or []]
    lines += [f"--find-links {link}" for link in options.find_links or []]
    lines += [f"--trusted-host {host}" for host in options.trusted_host or []]
    if options.requirements_txt:  # it wins over packages, as in classic
        lines.append(_read_inside(build_ctx, options.requirements_txt, "requirements_txt").strip())
    else:
        packages = list(options.packages or [])
        if not any(_project_name(p) in {"bentoml-classic", "bentoml_classic"} for p in packages):
            packages.insert(0, f"bentoml_classic=={__version__}")
        lines += packages
    (python_dir / "requirements.txt").write_text("\n".join(lines) + "\n")
    wheels = []
    for wheel in options.wheels or []:
        source = _inside(build_ctx, wheel, "python.wheels")
        (python_dir / "wheels").mkdir(exist_ok=True)
        shutil.copy2(source, python_dir / "wheels" / source.name)
        wheels.append(source.name)
    pip_args = options.pip_args or ""
    install = [
        "#!/usr/bin/env bash",
        "# Install this bento's Python packages (the Dockerfile runs it; so can you, in a venv).",
        "set -euo pipefail",
        'cd "$(dirname "${BASH_SOURCE[0]}")"',
        "# wheels/ (python.wheels, and the framework's own wheel that containerize adds) can",
        "# satisfy requirements.txt",
        "find_links=()",
        "if [ -d wheels ]; then find_links=(--find-links ./wheels); fi",
        'python -m pip install --no-cache-dir "${find_links[@]}" -r requirements.txt '
        f"{pip_args}".rstrip(),
    ]
    if wheels:
        names = " ".join(shlex.quote(f"wheels/{w}") for w in wheels)
        install.append(f"python -m pip install --no-cache-dir {names} {pip_args}".rstrip())
    _write_script(python_dir / "install.sh", "\n".join(install) + "\n")


def write_docker_env(config: BentoBuildConfig, build_ctx: str, env_dir: str) -> None:
    """``Dockerfile`` and ``entrypoint.sh`` (and the user's ``setup_script``)."""
    docker_dir = Path(env_dir, "docker")
    docker_dir.mkdir(parents=True)
    docker = config.docker
    base = docker.base_image or f"python:{config.python_version()}-slim"
    lines = [
        "# syntax=docker/dockerfile:1",
        f"FROM {base}",
        "ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    if docker.system_packages:
        packages = " ".join(shlex.quote(p) for p in docker.system_packages)
        lines.append(
            "RUN apt-get update && apt-get install -y --no-install-recommends "
            f"{packages} && rm -rf /var/lib/apt/lists/*"
        )
    lines += [
        f"RUN groupadd --system --gid {IMAGE_UID} {IMAGE_USER} && useradd --system "
        f"--create-home --uid {IMAGE_UID} --gid {IMAGE_UID} {IMAGE_USER}",
        f"ENV BENTO_PATH={IMAGE_BENTO_PATH} BENTOML_HOME=/home/{IMAGE_USER}/bentoml "
        "BENTOML_HOST=0.0.0.0",
        f"WORKDIR {IMAGE_BENTO_PATH}",
        # the packages first, so that a change of code alone reuses this layer
        "COPY env/python ./env/python/",
        "RUN bash ./env/python/install.sh",
        f"COPY --chown={IMAGE_USER}:{IMAGE_USER} . ./",
    ]
    if docker.setup_script:
        source = _inside(build_ctx, docker.setup_script, "docker.setup_script")
        shutil.copy2(source, docker_dir / "setup_script")
        os.chmod(docker_dir / "setup_script", 0o755)
        lines.append("RUN ./env/docker/setup_script")
    for key, value in docker.env_mapping().items():
        lines.append(f"ENV {key}={_docker_quote(value)}")
    lines += [
        f"USER {IMAGE_UID}:{IMAGE_UID}",
        f"EXPOSE {IMAGE_PORT}",
        'ENTRYPOINT ["./env/docker/entrypoint.sh"]',
    ]
    (docker_dir / "Dockerfile").write_text("\n".join(lines) + "\n")
    if docker.dockerfile_template:
        # kept beside the Dockerfile for the user; classic's Jinja blocks are not rendered, and
        # the build says so rather than let a user believe the image follows the template
        source = _inside(build_ctx, docker.dockerfile_template, "docker.dockerfile_template")
        shutil.copy2(source, docker_dir / "Dockerfile.template")
        logger.warning(
            "docker.dockerfile_template %s is copied to env/docker/Dockerfile.template but not "
            "rendered: the image is built from env/docker/Dockerfile",
            docker.dockerfile_template,
        )
    _write_script(docker_dir / "entrypoint.sh", _ENTRYPOINT)


def _docker_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _project_name(requirement: str) -> str:
    name = requirement.strip()
    for stop in "<>=!~[; @":
        name = name.split(stop, 1)[0]
    return name.lower()


def _inside(build_ctx: str, relative: str, key: str) -> Path:
    root = Path(build_ctx).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidArgument(f"{key} {relative!r} points outside the build directory {root}")
    if not path.is_file():
        raise InvalidArgument(f"{key} {relative!r}: no such file in {root}")
    return path


def _read_inside(build_ctx: str, relative: str, key: str) -> str:
    return _inside(build_ctx, relative, key).read_text(encoding="utf-8")


def _write_script(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o755)
