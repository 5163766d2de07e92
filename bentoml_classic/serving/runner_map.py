"""The HTTP tier's runner map: which address(es) each runner of the service answers on."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from ..exceptions import InvalidArgument

RUNNER_MAP_ENV = "BENTOML_RUNNER_MAP"


def parse_runner_map(
    runner_map: Mapping[str, str | list[str]] | str | None,
) -> dict[str, list[str]]:
    """Accept a mapping or its JSON text; fall back to BENTOML_RUNNER_MAP."""
    from ..protocol.address import Address

    if runner_map is None:
        runner_map = os.environ.get(RUNNER_MAP_ENV)
        if runner_map is None:
            raise InvalidArgument(f"no runner map: pass --runner-map or set {RUNNER_MAP_ENV}")
    if isinstance(runner_map, str):
        try:
            runner_map = json.loads(runner_map)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"runner map is not valid JSON: {exc}") from exc
    if not isinstance(runner_map, Mapping):
        raise InvalidArgument('runner map must be a JSON object: {"runner": "tcp://host:port"}')
    parsed: dict[str, list[str]] = {}
    for name, value in runner_map.items():
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise InvalidArgument(f"runner map entry {name!r} must be an address or a list of them")
        for url in urls:
            Address.parse(url)  # validates, with a message naming the address
        parsed[name] = list(urls)
    return parsed


#: host names that reach this host: a runner there and a port here on the same number collide
_THIS_HOST = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})
#: listening on these takes the port on every address of the host
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def runner_on_port(addresses: Mapping[str, list[str]], host: str, port: int) -> str | None:
    """The first runner address in ``addresses`` that listens on ``port`` of this host, where
    something here (``host``) means to listen too; None when none does."""
    from ..protocol.address import Address

    for urls in addresses.values():
        for url in urls:
            address = Address.parse(url)
            if address.port != port or address.host is None:
                continue
            if address.host in _THIS_HOST or address.host == host or host in _EVERY_ADDRESS:
                return url
    return None
