"""What a service adds to its server: mounted ASGI/WSGI apps and ASGI middlewares.

- Mounted apps are routes of the Starlette app after the probes, the Swagger UI and the API
  routes, so those win on their own paths, and an app mounted at "/" gets everything else (a
  GET on an API's path included, as in classic BentoML: the API only owns the POST; and any
  method on "/" but GET and HEAD, which are the Swagger UI's). A mounted app handles its
  own errors: its 404 and 500 bodies reach the client as it wrote them.
- A WSGI app is adapted by a2wsgi, which runs it in threads of its own. Starlette's
  ``WSGIMiddleware`` is deprecated and due to be removed, and ``starlette`` is not pinned here.
- Middlewares wrap everything below the request-id and CORS layers, the first added outermost,
  so they see every request, probes included, in the order they were added. With none added,
  nothing here costs a request anything.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from ..classic_service import MountedApp, Service


def _as_asgi(mounted: MountedApp) -> ASGIApp:
    if mounted.kind == "wsgi":
        from a2wsgi import WSGIMiddleware

        return WSGIMiddleware(mounted.app)  # type: ignore[return-value]
    app: ASGIApp = mounted.app
    return app


def mounted_routes(svc: Service) -> list[BaseRoute]:
    """One route per mounted app, in the order they were mounted."""
    return [Mount(m.path, app=_as_asgi(m), name=m.name) for m in svc.mount_apps]


def with_middlewares(app: ASGIApp, svc: Service) -> ASGIApp:
    """``app`` wrapped in the service's middlewares, the first added outermost."""
    for middleware_cls, options in reversed(svc.middlewares):
        app = middleware_cls(app, **options)
    return app
