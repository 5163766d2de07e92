"""Services written as classes (``@bentoml.service``), served on the classic runtime.

``@bentoml.service`` turns the class into a ``ClassService``, a classic ``Service`` whose APIs
call the class's instance: one runtime, two ways to declare a service.
"""

from __future__ import annotations

from .class_service import ClassService
from .decorators import api, service

__all__ = ["ClassService", "api", "service"]
