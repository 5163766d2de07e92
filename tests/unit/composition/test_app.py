"""An entry service and its dependencies in one app (``build_app``'s default: the graph in this
process): what a client sees of a dependency's answers and errors."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.io import JSON
from tests.support.servers import live_server


class Order(BaseModel):
    quantity: int


backend = bentoml.Service("app_backend")
calls: list[Any] = []
started: list[str] = []


@backend.on_startup
def remember_start(ctx: bentoml.Context) -> None:
    started.append("backend")


@backend.api(input=JSON(pydantic_model=Order), output=JSON())
def price(order: Order) -> dict[str, int]:
    calls.append(order)
    return {"total": order.quantity * 3}


@backend.api(input=JSON(), output=JSON())
async def broken(value: Any) -> Any:
    raise ValueError("secret path /srv/keys")


entry = bentoml.Service("app_entry")
to_backend = bentoml.depends(backend)


@entry.api(input=JSON(pydantic_model=Order), output=JSON())
async def checkout(order: Order) -> Any:
    return await to_backend.price.async_run(order)


@entry.api(input=JSON(), output=JSON())
def fail(value: Any) -> Any:
    return to_backend.broken.run(value)


def test_answers_errors_and_client_mistakes() -> None:
    calls.clear()
    with live_server(build_app(entry)) as url:
        assert started == ["backend"]  # the dependency's hooks ran in this process
        assert httpx.get(f"{url}/readyz").status_code == 200
        assert httpx.post(f"{url}/checkout", json={"quantity": 2}).json() == {"total": 6}
        assert len(calls) == 1
        # a client mistake is answered at the entry: the dependency never sees it
        mistake = httpx.post(f"{url}/checkout", json={"quantity": "many"})
        assert mistake.status_code == 400 and mistake.json()["error"]["type"] == "BadInput"
        assert len(calls) == 1
        # a dependency's own exception: a 500 naming the service, the API and the type only
        failed = httpx.post(f"{url}/fail", json=1)
        assert failed.status_code == 500
        error = failed.json()["error"]
        assert error["message"].startswith("service 'app_backend' API 'broken' raised ValueError")
        assert error["detail"]["exception"] == "ValueError"
        assert "secret" not in failed.text
