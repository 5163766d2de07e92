"""The HTTP front door of a service: the ASGI app (``app.py``, ``build_app(svc, config)``),
the per-API endpoint and its dispatch, the error envelope, OpenAPI, request ids and size
limits, traffic control, where sync API functions run, and uvicorn's protocol as we use it.
"""
