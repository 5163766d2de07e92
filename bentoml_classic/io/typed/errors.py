"""The start-up error of a class service whose API signature the HTTP contract cannot be
inferred from."""

from __future__ import annotations

from ...exceptions import BentoMLException


class SignatureError(BentoMLException):
    """An ``@bentoml.api`` method's signature cannot become an HTTP contract.

    Raised while the service is declared (at import), never while serving: the message names
    the method and the parameter, so the fix is obvious before the first request.
    """


def signature_error(method: str, param: str | None, problem: str) -> SignatureError:
    where = f"parameter {param!r} of API method {method!r}" if param else f"API method {method!r}"
    return SignatureError(f"{where}: {problem}", detail={"method": method, "parameter": param})
