"""Library preload: the workers are forked from a process that imported only their libraries.

Each worker that imports pandas (and with it pyarrow) or numpy on its own holds its own copy of
their Python objects. ``api_server.preload`` shares them by importing the service module in a
preforking parent, but that runs the user's module once for every worker, which a service
written for classic BentoML may not survive (a connection opened at import shared by all
workers, a thread started at import absent in them). This mode imports, before the fork, only
libraries from a list checked to be safe to fork after import, and only those the service
module is known to import (the deployment plan's child saw them loaded once it had imported the
service). Each worker then imports the user's module itself, as classic BentoML's did, and
finds the libraries already loaded.

Not on the list, so never imported before the fork: torch and other frameworks (their thread
pools and CUDA state are not fork-safe), scikit-learn and scipy (their own BLAS and OpenMP
pools), and any module of the user's. What the listed libraries leave behind at import, and
how a forked worker gets its own (docs/architecture.md, "Memory: what each process imports"):

- numpy's legacy global ``RandomState``, seeded once in the parent: reseeded in each worker
  right after the fork (``reseed_after_fork``), so that workers draw different numbers, as
  workers that imported numpy themselves did; a service module that seeds it at import still
  does so afterwards, in each worker.
- OpenBLAS's thread pool: the preforker runs with the API workers' thread counts (one thread),
  so OpenBLAS starts no thread at load; runners whose workers have other thread counts keep
  their own watcher (``shared_runners.py``).
- pyarrow's CPU and IO thread pools start on first use, in each worker; its jemalloc starts a
  background thread at import, which jemalloc's own fork handler turns off in a forked child
  (that child's jemalloc purges as it allocates instead). The preforker warns when any other
  thread runs at the fork (``prefork.freeze_before_fork``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterable

logger = logging.getLogger("bentoml_classic.library_preload")

#: libraries that may be imported before the fork: imported with one thread allowed, none opens
#: a file or a connection, and what each leaves in the parent is dealt with in the children
#: (numpy's global random state, jemalloc's thread: above). The order is the import order.
PRELOADABLE_LIBRARIES = ("numpy", "pyarrow", "pandas")

#: the environment variable that names them, comma-separated, for the preforking parent
LIBRARIES_ENV = "BENTOML_PRELOAD_LIBRARIES"

#: whether reseed_after_fork runs in every child this process forks
_reseeding = False


def libraries_loaded(modules: Iterable[str]) -> list[str]:
    """The preloadable libraries among ``modules`` (``sys.modules`` of a process that imported
    the service module): what its workers will import anyway."""
    loaded = set(modules)
    return [name for name in PRELOADABLE_LIBRARIES if name in loaded]


def preload_libraries(names: Iterable[str]) -> list[str]:
    """Import ``names`` (only those on the list) and arrange for numpy's global random state to
    be reseeded in every child forked from now on; the libraries imported."""
    imported = []
    for name in names:
        if name not in PRELOADABLE_LIBRARIES:
            logger.warning("%s is not a library that may be preloaded: left to the workers", name)
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # the workers fail on it again, and report it
            logger.warning("preloading %s failed (%s): left to the workers", name, exc)
            continue
        imported.append(name)
    global _reseeding
    if imported and not _reseeding:
        os.register_at_fork(after_in_child=reseed_after_fork)
        _reseeding = True
    return imported


def reseed_after_fork() -> None:
    """Give this forked child a random state of its own: numpy's global ``RandomState`` was
    seeded once, in the parent, and would otherwise draw the same numbers in every worker
    (Python's ``random`` reseeds itself after a fork)."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with contextlib.suppress(Exception):
            numpy_random.seed()


def preload_mode(service: bool, libraries: bool) -> str | None:
    """How a watcher's workers start: ``service`` (``preload``: forked after the service module
    was imported), ``libraries`` (``preload_libraries``: forked after its libraries were), or
    None (each worker started by Circus, importing everything itself)."""
    if service:
        return "service"
    return "libraries" if libraries else None


def libraries_to_preload(libraries: list[str], env_set: dict[str, str]) -> list[str] | None:
    """The libraries a deployment's preforker may import (``DeploymentPlan.libraries``), or
    None when it must not preload any: its service module sets a thread count when imported
    (``env_set``, what importing it and its hooks changed), which the libraries read when they
    load, so they must load after it in each worker, as they did unforked."""
    from .resources import thread_env

    if set(env_set) & set(thread_env(1)):
        return None
    return libraries


def libraries_from_env() -> list[str]:
    return [name for name in os.environ.get(LIBRARIES_ENV, "").split(",") if name]
