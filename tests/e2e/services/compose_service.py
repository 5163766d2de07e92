"""Two services for the multi-host test: ``front`` (the entry) calls ``back``, each served by a
supervisor of its own (start-http-server, start-service-server)."""

from typing import Any

import bentoml_classic as bentoml
from bentoml_classic.io import JSON

back = bentoml.Service("back")


@back.api(input=JSON(), output=JSON())
async def double(values: list[float]) -> list[float]:
    return [2 * v for v in values]


front = bentoml.Service("front")
to_back = bentoml.depends(back)


@front.api(input=JSON(), output=JSON())
def doubled(values: Any) -> dict[str, Any]:
    return {"doubled": to_back.double.run(values)}
