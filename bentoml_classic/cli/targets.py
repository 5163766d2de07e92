"""Which service a command serves: ``MODULE:SVC``, a bento (tag or folder), or the ``service:``
of a bentofile.yaml; ``bentos/serving_target.py`` decides, for every entry point alike.

As in classic BentoML, no target (or ``.``) means the working directory's bentofile.yaml (or the
built bento it is), and a directory that holds one means that directory's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..bentos.serving_target import ServingTarget

BENTOFILE = "bentofile.yaml"


def serving_target(target: str | None, working_dir: str) -> ServingTarget:
    """The target resolved, its environment applied (a bento's models) for this process and
    the workers it starts. Imported when called: `bentoml --help` need not load pydantic."""
    from ..bentos.serving_target import resolve_serving_target

    resolved = resolve_serving_target(target, working_dir)
    resolved.apply_environment()
    return resolved


def resolve_target(target: str | None, working_dir: str) -> tuple[str, str]:
    """``(MODULE:SVC, working directory)`` for ``target`` given in ``working_dir``."""
    resolved = serving_target(target, working_dir)
    return resolved.service, resolved.working_dir
