"""Generated from service.proto by grpcio-tools; regenerate with ``make grpc-stubs``."""
