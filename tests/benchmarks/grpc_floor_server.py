"""A bare ``grpc.aio`` server that answers every ``BentoService/Call`` with one fixed
``Response``: no service, no runner, no descriptor. What one call costs it is the least any
``grpc.aio`` API worker can cost per call, so ``bench_grpc.py`` measures it beside the real
servers to tell grpcio's share of a gRPC call from ours.

Usage: ``python grpc_floor_server.py PORT`` (127.0.0.1; stops on SIGTERM).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any


async def serve(port: int) -> None:
    import grpc

    from bentoml_classic.grpc.v1 import service_pb2 as pb
    from bentoml_classic.grpc.v1 import service_pb2_grpc

    answer = pb.Response(ndarray=pb.NDArray(dtype=pb.NDArray.DTYPE_INT64, int64_values=[2]))

    class Fixed(service_pb2_grpc.BentoServiceServicer):  # type: ignore[misc]
        async def Call(self, request: Any, context: Any) -> Any:  # gRPC names it
            return answer

    server = grpc.aio.server()
    service_pb2_grpc.add_BentoServiceServicer_to_server(Fixed(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
