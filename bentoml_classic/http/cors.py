"""``api_server.http.cors``: Cross-Origin Resource Sharing by Starlette's CORSMiddleware.

Off unless ``enabled``. Each key maps to one of the middleware's arguments; a key that is unset
or null leaves Starlette's default (no origin, GET only, no extra headers, no credentials, a
preflight cached 600 s), as classic BentoML passed only the keys that were set. A list may
also be written as one comma-separated string.

The layer sits just inside the request-id layer, outside the user's middlewares: a preflight
(which carries no credentials) is answered before an authentication middleware could refuse
it, and such a middleware's own refusals carry the CORS headers a browser needs to show them.
A preflight that asks for an origin, method or header the configuration does not allow gets a
400 in the JSON error envelope rather than Starlette's plain text.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from ..config import CorsConfig
from ..exceptions import BadInput
from .errors import error_response


def _names(value: str | list[str]) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


def cors_options(config: CorsConfig) -> dict[str, Any] | None:
    """CORSMiddleware's keyword arguments, or None when CORS is off."""
    if not config.enabled:
        return None
    lists = {
        "allow_origins": config.access_control_allow_origins,
        "allow_methods": config.access_control_allow_methods,
        "allow_headers": config.access_control_allow_headers,
        "expose_headers": config.access_control_expose_headers,
    }
    options: dict[str, Any] = {
        key: _names(value) for key, value in lists.items() if value is not None
    }
    scalars = {
        "allow_origin_regex": config.access_control_allow_origin_regex,
        "allow_credentials": config.access_control_allow_credentials,
        "max_age": config.access_control_max_age,
    }
    options.update({key: value for key, value in scalars.items() if value is not None})
    return options


class EnvelopedCORSMiddleware(CORSMiddleware):
    """Starlette's CORSMiddleware, with a refused preflight in the JSON error envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        reason = bytes(response.body).decode(errors="replace")
        return error_response(
            BadInput(
                f"CORS preflight refused: {reason} (api_server.http.cors)",
                detail={
                    "origin": request_headers.get("origin"),
                    "method": request_headers.get("access-control-request-method"),
                    "headers": request_headers.get("access-control-request-headers"),
                },
            )
        )


def with_cors(app: ASGIApp, config: CorsConfig) -> ASGIApp:
    """``app`` behind the CORS layer when the configuration enables it, else ``app`` itself."""
    options = cors_options(config)
    if options is None:
        return app
    return EnvelopedCORSMiddleware(app, **options)
