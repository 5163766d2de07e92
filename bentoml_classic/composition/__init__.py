"""Service composition: services that call other services' APIs (``depends``), the graph they
form (``graph.py``), and how a call crosses to a dependency: in this process through the
runner protocol's encoding (``local.py``), or over its sockets to the dependency's own workers
(``remote.py``, served by ``server.py``)."""

from .handle import DependencyAPI, DependencyHandle, depends

__all__ = ["DependencyAPI", "DependencyHandle", "depends"]
