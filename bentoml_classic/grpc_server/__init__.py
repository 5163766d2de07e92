"""The gRPC front door, beside ``http/`` on the same ``Service`` and descriptors: the
``BentoService`` servicer (``servicer.py``), each descriptor over gRPC (``codec.py``), the
server with health, reflection and channelz (``server.py``) and its metrics port
(``metrics_port.py``). Started from ``serving/grpc_tier.py``; needs the ``grpc`` extra."""
