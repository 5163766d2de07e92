"""TLS for runners reached over TCP (``tcps://``): the runner server's context and its callers'.

On a private network the shared token keeps strangers out, but travels, with every payload, in
clear. Across networks that are not yours, serve the runner with a certificate
(``start-runner-server --ssl-certfile --ssl-keyfile``) and name it ``tcps://`` in the runner map;
the HTTP tier then checks the runner's certificate against the system's CAs, or against
``--runner-ssl-ca-certs``. ``--ssl-ca-certs`` on the runner side also demands a client
certificate signed by that CA (mutual TLS), which the HTTP tier presents with
``--runner-ssl-certfile`` and ``--runner-ssl-keyfile``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from ..exceptions import InvalidArgument


def server_context(
    certfile: str, keyfile: str | None = None, ca_certs: str | None = None
) -> ssl.SSLContext:
    """The runner server's side; with ``ca_certs``, callers must present a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
        if ca_certs:
            context.load_verify_locations(ca_certs)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load the runner server's TLS files: {exc}") from exc
    return context


def client_context(
    ca_certs: str | None = None, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """The caller's side: the runner's certificate is checked against ``ca_certs`` (or the
    system's CAs) and its host name; ``certfile`` is presented when the runner asks for one."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_certs)
        if certfile:
            context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load the TLS files for calling runners: {exc}") from exc
    return context


def from_settings(settings: Mapping[str, str | None], *, server: bool) -> ssl.SSLContext | None:
    """The context a worker spec's ``tls`` settings describe; None when there are none."""
    if not any(settings.values()):
        return None
    if server:
        certfile = settings.get("certfile")
        if not certfile:
            raise InvalidArgument("a runner server with TLS needs a certificate (--ssl-certfile)")
        return server_context(certfile, settings.get("keyfile"), settings.get("ca_certs"))
    return client_context(
        settings.get("ca_certs"), settings.get("certfile"), settings.get("keyfile")
    )
