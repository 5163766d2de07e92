"""Which service a command serves: ``MODULE:SVC``, or the ``service:`` of a bentofile.yaml.

As in classic BentoML, no target (or ``.``) means the working directory's bentofile.yaml, and a
directory that holds one means that directory's.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import InvalidArgument

BENTOFILE = "bentofile.yaml"


def resolve_target(target: str | None, working_dir: str) -> tuple[str, str]:
    """``(MODULE:SVC, working directory)`` for ``target`` given in ``working_dir``."""
    working_dir = os.path.abspath(working_dir)
    if target is None or target == ".":
        return _service_in_bentofile(working_dir), working_dir
    if ":" not in target:
        directory = Path(working_dir, target)
        if directory.is_dir() and (directory / BENTOFILE).is_file():
            resolved = str(directory.resolve())
            return _service_in_bentofile(resolved), resolved
    return target, working_dir


def _service_in_bentofile(directory: str) -> str:
    bentofile = Path(directory, BENTOFILE)
    if bentofile.is_file():
        import yaml

        try:
            content = yaml.safe_load(bentofile.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"{bentofile} is not valid YAML: {exc}") from exc
        service = content.get("service") if isinstance(content, dict) else None
        if isinstance(service, str) and service:
            return service
        raise InvalidArgument(
            f"{bentofile} has no 'service:' entry (e.g. service: \"service:svc\"): add one, "
            "or name the service, e.g. `bentoml serve service:svc`"
        )
    raise InvalidArgument(
        f"no service given and no {BENTOFILE} in {directory}: run `bentoml serve MODULE:SVC`, "
        "e.g. `bentoml serve service:svc`"
    )
