"""Finding the class a pickle names when it is not where the pickle says.

pickle records a class as ``module.qualname`` and the receiver imports that module. Two cases
break that although the class is right here, both from how the user's code was started:

- the class was pickled in a process that ran its module as ``__main__`` (a script);
- its module was imported under another name there (``app.service`` on one side, ``service``
  on the other, when the two tiers start from different working directories).

``unpickle`` is the second attempt after a failed ``pickle.loads``: it looks the class up by
its qualified name among the modules loaded from under the working directory (the user's code:
workers start there, with it on ``sys.path``), taking one only if exactly one class answers,
and only a module with the same last name unless the pickle said ``__main__``. A class it cannot
find is an ``UnknownClass`` error that says where such classes must live.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from typing import Any


class UnknownClass(Exception):
    """A pickle names a class that this process has nowhere."""


class _UserClassUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (AttributeError, ImportError) as exc:
            found = find_user_class(module, name)
            if found is None:
                raise UnknownClass(
                    f"{module}.{name} cannot be found in this process ({exc}): the classes of "
                    "objects passed to and from runners must be defined at the top level of a "
                    "module that both the API and the runner processes import, such as the "
                    "service module"
                ) from exc
            return found


def unpickle(stream: memoryview, buffers: list[memoryview]) -> Any:
    return _UserClassUnpickler(io.BytesIO(stream), buffers=buffers).load()


def find_user_class(module: str, name: str) -> Any:
    """The one object called ``name`` in the user's loaded modules, or None."""
    root = os.path.join(os.path.abspath(os.getcwd()), "")
    last = module.rpartition(".")[2]
    found: list[Any] = []
    for loaded_name, loaded in list(sys.modules.items()):
        path = getattr(loaded, "__file__", None)
        # a relative __file__ is no file of the user's: torch.ops says "_ops.py", and answers
        # every attribute, which made every class of __main__ ambiguous where torch is loaded
        if not path or not os.path.isabs(path) or not os.path.abspath(path).startswith(root):
            continue
        if module != "__main__" and loaded_name.rpartition(".")[2] != last:
            continue
        value = _attribute_path(loaded, name)
        if value is not None and all(value is not other for other in found):
            found.append(value)
    return found[0] if len(found) == 1 else None


def _attribute_path(module: Any, qualname: str) -> Any:
    value = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value
