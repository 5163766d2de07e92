"""The gRPC wire contract both ends share: the stubs generated from ``v1/service.proto``
(classic BentoML's ``bentoml.grpc.v1``), arrays and tables as its messages (``wire.py``), and
which status code answers which error (``codes.py``).

Nothing of the server lives here (that is ``grpc_server/``), so the Python client can use it
from its lower layer. Needs the ``grpc`` extra: ``pip install 'bentoml_classic[grpc]'``.
"""
