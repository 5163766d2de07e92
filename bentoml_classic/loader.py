"""Find the Service a user names on the command line: ``module:attr``, ``module`` or ``file.py``.

A module that raises while it is imported is the user's bug, in the user's code: the error
names the target and shows the module's own traceback, without the frames of this loader,
importlib or the command line, which only bury the line to fix.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

from .classic_service import Service
from .exceptions import ImportServiceError, InvalidArgument


def _module_name(module_part: str) -> str:
    if module_part.endswith(".py"):
        module_part = module_part[: -len(".py")]
    return module_part.replace(os.sep, ".").replace("/", ".").strip(".")


def import_service(target: str, working_dir: str | os.PathLike[str] = ".") -> Service:
    """Import ``target`` with ``working_dir`` first on sys.path and return its Service.

    Without an attribute the module must hold exactly one Service, which is then used. Raises
    ``InvalidArgument`` when the target names no Service, and ``ImportServiceError`` (the
    module's exception as its ``__cause__``) when the module raises while being imported.
    """
    module_part, _, attr = target.partition(":")
    module_name = _module_name(module_part)
    if not module_name:
        raise InvalidArgument(
            f"invalid service {target!r}: expected MODULE:ATTRIBUTE, e.g. service:svc"
        )
    directory = str(Path(working_dir).resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidArgument(
                f"cannot import module {module_name!r} of service {target!r} from "
                f"working directory {directory!r}"
            ) from exc
        raise _import_failed(target, module_name, exc) from exc
    except Exception as exc:
        raise _import_failed(target, module_name, exc) from exc
    if attr:
        try:
            svc = getattr(module, attr)
        except AttributeError:
            raise InvalidArgument(
                f"cannot find service {target!r}: module {module_name!r} has no attribute "
                f"{attr!r}; the Service objects it has: {_services_in(module) or 'none'}"
            ) from None
        if isinstance(svc, type):
            raise InvalidArgument(
                f"{target!r} is a class, not a bentoml.Service: decorate it with "
                "@bentoml.service to serve it"
            )
        if not isinstance(svc, Service):
            raise InvalidArgument(f"{target!r} is a {type(svc).__name__}, not a bentoml.Service")
        return svc
    found = _services_in(module)
    if len(found) != 1:
        raise InvalidArgument(
            f"cannot find service {target!r}: module {module_name!r} defines {len(found)} "
            f"services ({found or 'none'}): name one as MODULE:ATTRIBUTE"
        )
    found_svc: Service = getattr(module, found[0])
    return found_svc


def _services_in(module: object) -> list[str]:
    """Names of the distinct Services in ``module`` (an alias of one counts once)."""
    seen: dict[int, str] = {}
    for name, value in vars(module).items():
        if isinstance(value, Service):
            seen.setdefault(id(value), name)
    return list(seen.values())


def _import_failed(target: str, module_name: str, exc: Exception) -> ImportServiceError:
    """The error for a module that raised ``exc`` while being imported: the target, and the
    traceback from the user's first frame on."""
    trace = traceback.TracebackException.from_exception(exc)
    trace.stack = traceback.StackSummary.from_list(
        [frame for frame in trace.stack if not _is_machinery(frame.filename)]
    )
    return ImportServiceError(
        f"cannot import service {target!r}: module {module_name!r} raised "
        f"{type(exc).__name__} while being imported\n" + "".join(trace.format()).rstrip()
    )


def _is_machinery(filename: str) -> bool:
    """Frames of the import itself: this module, importlib, and its frozen bootstrap."""
    return (
        filename.startswith("<frozen importlib")
        or filename == __file__
        or filename == importlib.__file__
    )
