"""HTTPS settings for the API server: resolved from arguments over ``api_server.ssl``, and
refused before start-up, naming the option (or key) and the file, when they cannot work.

Certificates are made by the test (trustme); the encrypted key by ``cryptography``, which
trustme depends on."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvicorn
from cryptography.hazmat.primitives import serialization

from bentoml_classic.config import SslConfig
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.serving.http_tls import HttpTls, http_tls_from_spec, resolve_http_tls

PASSWORD = "open sesame"


class Files:
    def __init__(self, directory: Path) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca = directory / "ca.pem"
        self.combined = directory / "server.pem"  # key and certificate chain in one file
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        self.encrypted_key = directory / "encrypted-key.pem"
        self.other_key = directory / "other-key.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.combined))
        cert.cert_chain_pems[0].write_to_path(str(self.cert))
        cert.private_key_pem.write_to_path(str(self.key))
        ca.issue_cert("other.example").private_key_pem.write_to_path(str(self.other_key))
        key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), None)
        self.encrypted_key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSWORD.encode()),
            )
        )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("tls"))


def resolve(ssl_config: SslConfig | None = None, **given: Any) -> HttpTls | None:
    return resolve_http_tls(ssl_config or SslConfig(), **given)


def refused(**given: Any) -> str:
    with pytest.raises(InvalidArgument) as info:
        resolve(**given)
    return info.value.message


def test_no_certificate_is_plain_http() -> None:
    assert resolve() is None


def test_a_certificate_with_its_key_in_the_same_file(files: Files) -> None:
    tls = resolve(certfile=str(files.combined))
    assert tls == HttpTls(certfile=str(files.combined))
    assert tls.version == ssl.PROTOCOL_TLS_SERVER and tls.cert_reqs == ssl.CERT_NONE


def test_relative_paths_become_absolute(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files.cert.parent)
    tls = resolve(certfile="cert.pem", keyfile="key.pem")
    assert tls is not None
    assert (tls.certfile, tls.keyfile) == (str(files.cert), str(files.key))


def test_an_encrypted_key_with_its_password(files: Files) -> None:
    tls = resolve(
        certfile=str(files.cert), keyfile=str(files.encrypted_key), keyfile_password=PASSWORD
    )
    assert tls is not None and tls.keyfile_password == PASSWORD


def test_arguments_win_over_the_configuration_and_fill_from_it(files: Files) -> None:
    configured = SslConfig(certfile="/nowhere/cert.pem", cert_reqs=1, ca_certs=str(files.ca))
    tls = resolve(configured, certfile=str(files.combined))
    assert tls is not None
    assert tls.certfile == str(files.combined)  # the argument
    assert (tls.cert_reqs, tls.ca_certs) == (1, str(files.ca))  # the configuration


def test_uvicorn_builds_its_context_from_the_options(files: Files) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    tls = resolve(
        certfile=str(files.cert),
        keyfile=str(files.encrypted_key),
        keyfile_password=PASSWORD,
        ca_certs=str(files.ca),
        cert_reqs=ssl.CERT_OPTIONAL,
    )
    assert tls is not None
    config = uvicorn.Config(app, **tls.uvicorn_options())
    config.load()
    assert isinstance(config.ssl, ssl.SSLContext)
    assert config.ssl.verify_mode == ssl.CERT_OPTIONAL
    assert http_tls_from_spec(tls.to_spec()) == tls
    assert http_tls_from_spec({}) is None


def test_a_missing_file_is_named_with_its_option(files: Files, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    message = refused(certfile=str(missing))
    assert "--ssl-certfile" in message and str(missing) in message
    message = refused(certfile=str(files.cert), keyfile=str(missing))
    assert "--ssl-keyfile" in message and str(missing) in message
    message = refused(certfile=str(files.combined), ca_certs=str(missing))
    assert "--ssl-ca-certs" in message and str(missing) in message


def test_a_missing_file_from_the_configuration_is_named_with_its_key(tmp_path: Path) -> None:
    missing = str(tmp_path / "configured.pem")
    with pytest.raises(InvalidArgument) as info:
        resolve(SslConfig(certfile=missing))
    assert "api_server.ssl.certfile" in info.value.message and missing in info.value.message


def test_a_wrong_password_is_named(files: Files) -> None:
    message = refused(
        certfile=str(files.cert), keyfile=str(files.encrypted_key), keyfile_password="guess"
    )
    assert "wrong --ssl-keyfile-password" in message and str(files.encrypted_key) in message


def test_an_encrypted_key_without_a_password_is_refused_not_prompted_for(files: Files) -> None:
    message = refused(certfile=str(files.cert), keyfile=str(files.encrypted_key))
    assert "encrypted" in message and "--ssl-keyfile-password" in message


def test_a_key_of_another_certificate_names_both_files(files: Files) -> None:
    message = refused(certfile=str(files.cert), keyfile=str(files.other_key))
    assert "does not belong" in message
    assert str(files.other_key) in message and str(files.cert) in message


def test_a_certificate_without_its_key_says_where_the_key_goes(files: Files) -> None:
    message = refused(certfile=str(files.cert))
    assert str(files.cert) in message and "--ssl-keyfile" in message


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"version": 99}, "--ssl-version 99"),
        ({"version": int(ssl.PROTOCOL_TLS_CLIENT)}, "client protocol"),
        ({"cert_reqs": 7}, "--ssl-cert-reqs 7"),
        ({"ciphers": "NO-SUCH-CIPHER"}, "--ssl-ciphers 'NO-SUCH-CIPHER'"),
    ],
)
def test_bad_protocol_settings_are_named(files: Files, given: dict[str, Any], named: str) -> None:
    assert named in refused(certfile=str(files.combined), **given)


def test_key_options_without_a_certificate_are_refused(files: Files) -> None:
    assert "--ssl-keyfile" in refused(keyfile=str(files.key))
    with pytest.raises(InvalidArgument, match=r"api_server\.ssl\.certfile"):
        resolve(SslConfig(enabled=True))
