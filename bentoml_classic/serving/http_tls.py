"""HTTPS on the API server's port: classic's ``--ssl-certfile`` & co (and ``api_server.ssl``).

uvicorn in each API worker does the TLS, from the same ``ssl_*`` options classic passed it. The
arbiter first builds the context once itself, the way uvicorn will: a missing file, a wrong key
password or a bad cipher string must stop ``bentoml serve`` with a message naming the option and
the file, not make every API worker crash at start-up, be restarted and crash again. It also
refuses an encrypted key given without a password, where OpenSSL would otherwise stop each
worker at a pass-phrase prompt on the terminal.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import asdict, dataclass
from typing import Any

from ..config import SslConfig
from ..exceptions import InvalidArgument


@dataclass(frozen=True)
class HttpTls:
    """What uvicorn needs for HTTPS; paths absolute (workers run in the working directory)."""

    certfile: str
    keyfile: str | None = None
    keyfile_password: str | None = None
    version: int = ssl.PROTOCOL_TLS_SERVER
    cert_reqs: int = ssl.CERT_NONE
    ca_certs: str | None = None
    ciphers: str | None = "TLSv1"

    def uvicorn_options(self) -> dict[str, Any]:
        return {f"ssl_{name}": value for name, value in asdict(self).items()}

    def to_spec(self) -> dict[str, Any]:
        return asdict(self)


#: the options' names, as the command line spells them (the Python keywords are ``ssl_*``)
_FLAGS = {
    "certfile": "--ssl-certfile",
    "keyfile": "--ssl-keyfile",
    "keyfile_password": "--ssl-keyfile-password",
    "version": "--ssl-version",
    "cert_reqs": "--ssl-cert-reqs",
    "ca_certs": "--ssl-ca-certs",
    "ciphers": "--ssl-ciphers",
}


class _NoPassword(Exception):
    """Raised by the pass-phrase callback when no password was given (instead of a prompt)."""


def resolve_http_tls(
    ssl_config: SslConfig,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    keyfile_password: str | None = None,
    version: int | None = None,
    cert_reqs: int | None = None,
    ca_certs: str | None = None,
    ciphers: str | None = None,
) -> HttpTls | None:
    """The HTTPS settings: each argument given wins over its ``api_server.ssl`` key. None when
    there is no certificate (plain HTTP); raises ``InvalidArgument`` naming the option (or the
    configuration key) and the file when the settings cannot work."""
    given = {
        "certfile": certfile,
        "keyfile": keyfile,
        "keyfile_password": keyfile_password,
        "version": version,
        "cert_reqs": cert_reqs,
        "ca_certs": ca_certs,
        "ciphers": ciphers,
    }
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for name, value in given.items():
        if value is not None:
            values[name], labels[name] = value, _FLAGS[name]
        else:
            values[name], labels[name] = getattr(ssl_config, name), f"api_server.ssl.{name}"
    if not values["certfile"]:
        if ssl_config.enabled:
            raise InvalidArgument(
                "api_server.ssl.enabled is true but no certificate is given: set "
                "api_server.ssl.certfile or pass --ssl-certfile"
            )
        stray = [labels[n] for n in ("keyfile", "keyfile_password", "ca_certs") if values[n]]
        if stray:
            raise InvalidArgument(
                f"{', '.join(stray)} given without a certificate: HTTPS needs --ssl-certfile "
                "(or api_server.ssl.certfile)"
            )
        return None
    for name in ("certfile", "keyfile", "ca_certs"):
        if values[name]:
            values[name] = _readable(labels[name], values[name])
    tls = HttpTls(**values)
    server_context(tls, labels)
    return tls


def server_context(tls: HttpTls, labels: dict[str, str] | None = None) -> ssl.SSLContext:
    """The context uvicorn will build from ``tls`` (its ``create_ssl_context``), with errors
    that say which setting is wrong."""
    label = {**_FLAGS, **(labels or {})}
    try:
        context = ssl.SSLContext(tls.version)
    except ValueError as exc:
        raise InvalidArgument(
            f"{label['version']} {tls.version}: {exc} (a protocol number of Python's ssl "
            f"module; the default, {int(ssl.PROTOCOL_TLS_SERVER)}, is PROTOCOL_TLS_SERVER)"
        ) from None
    if context.protocol == ssl.PROTOCOL_TLS_CLIENT:
        raise InvalidArgument(
            f"{label['version']} {tls.version} is a client protocol; a server needs "
            f"{int(ssl.PROTOCOL_TLS_SERVER)} (PROTOCOL_TLS_SERVER)"
        )
    _load_cert_chain(context, tls, label)
    try:
        context.verify_mode = ssl.VerifyMode(tls.cert_reqs)
    except ValueError:
        raise InvalidArgument(
            f"{label['cert_reqs']} {tls.cert_reqs}: expected 0 (no client certificate), "
            "1 (optional) or 2 (required)"
        ) from None
    if tls.ca_certs:
        try:
            context.load_verify_locations(tls.ca_certs)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgument(
                f"{label['ca_certs']} {tls.ca_certs!r} holds no usable CA certificate: {exc}"
            ) from None
    if tls.ciphers:
        try:
            context.set_ciphers(tls.ciphers)
        except ssl.SSLError as exc:
            raise InvalidArgument(
                f"{label['ciphers']} {tls.ciphers!r}: {exc} (an OpenSSL cipher list)"
            ) from None
    return context


def _load_cert_chain(context: ssl.SSLContext, tls: HttpTls, label: dict[str, str]) -> None:
    key_path = tls.keyfile or tls.certfile
    key_label = label["keyfile"] if tls.keyfile else label["certfile"]

    def password() -> str:
        if tls.keyfile_password is None:
            raise _NoPassword
        return tls.keyfile_password

    try:
        context.load_cert_chain(tls.certfile, tls.keyfile, password)
    except _NoPassword:
        raise InvalidArgument(
            f"the private key in {key_label} {key_path!r} is encrypted: give its password "
            f"with {_either('keyfile_password')}"
        ) from None
    except ssl.SSLError as exc:
        if tls.keyfile_password is not None and _is_encrypted(key_path):
            raise InvalidArgument(
                f"wrong {label['keyfile_password']} for the private key in {key_label} {key_path!r}"
            ) from None
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise InvalidArgument(
                f"the private key in {key_label} {key_path!r} does not belong to the "
                f"certificate in {label['certfile']} {tls.certfile!r}"
            ) from None
        raise InvalidArgument(
            f"cannot load the certificate in {label['certfile']} {tls.certfile!r} with its "
            f"private key (from {key_label} {key_path!r}): {exc}. Both must be PEM; a key in "
            f"a file of its own goes in {_either('keyfile')}"
        ) from None


def _either(name: str) -> str:
    """An option not given, by both its names."""
    return f"{_FLAGS[name]} (or api_server.ssl.{name})"


def _readable(label: str, path: str) -> str:
    absolute = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(absolute):
        raise InvalidArgument(f"{label}: no such file {absolute!r}")
    if not os.access(absolute, os.R_OK):
        raise InvalidArgument(f"{label}: cannot read {absolute!r} (permission denied)")
    return absolute


def _is_encrypted(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return b"ENCRYPTED" in file.read()
    except OSError:
        return False


def http_tls_from_spec(fields: dict[str, Any]) -> HttpTls | None:
    """The settings an API worker was handed in its spec (``HttpTls.to_spec``); None: HTTP."""
    return HttpTls(**fields) if fields else None
