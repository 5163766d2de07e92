"""The shared token of a two-tier deployment, and where it comes from when nobody set one.

A runner server on TCP admits only callers that present the token (``protocol/server.py``).
Across hosts the operator sets the same ``BENTOML_RUNNER_TOKEN`` (or ``--token``) on both. On
one host that is a chore with nothing to gain, so when neither is set the first tier to start
writes a random token to ``$BENTOML_HOME/runner_token`` (readable by its owner only) and the
other tier reads it: anyone who can read that file could read the model store anyway.

The file appears complete or not at all: it is written under a temporary name and linked into
place, and a link fails if the name exists, so two tiers starting at once agree on whichever
token was linked first. An HTTP tier whose runners are on another host cannot know their
token and says which variable to set instead of guessing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import stat
from collections.abc import Iterable

from ..exceptions import InvalidArgument
from ..models.store import bentoml_home
from .worker_spec import TOKEN_ENV

TOKEN_FILE = "runner_token"


def token_path() -> str:
    return os.path.join(bentoml_home(), TOKEN_FILE)


def given_token(token: str | None) -> str | None:
    """``token=`` / ``--token``, else ``BENTOML_RUNNER_TOKEN``; None when neither is set."""
    return token or os.environ.get(TOKEN_ENV) or None


def runner_server_token(token: str | None) -> tuple[str, str]:
    """The token a runner server demands, and where it came from (for its start-up line)."""
    explicit = given_token(token)
    if explicit:
        return explicit, "--token" if token else TOKEN_ENV
    return host_token(), token_path()


def http_server_token(token: str | None, runner_addresses: Iterable[str]) -> str | None:
    """The token an HTTP server presents to its TCP runners; None when it has none (only Unix
    sockets). Without one given, the host's token serves runners on this host; runners
    elsewhere need the operator to say."""
    from ..protocol.address import Address

    tcp = [address for address in runner_addresses if Address.parse(address).is_tcp]
    if not tcp:
        return None
    explicit = given_token(token)
    if explicit:
        return explicit
    remote = [address for address in tcp if not _is_loopback(Address.parse(address).host)]
    if remote:
        raise InvalidArgument(
            f"runner address(es) {remote} are not on this host, so they cannot share this "
            f"host's generated token: set {TOKEN_ENV} (or pass --token) here to the token of "
            "the runner server. On the runner's host it is the same variable, or, if none was "
            f"set there, the file {TOKEN_FILE} in its $BENTOML_HOME"
        )
    return host_token()


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def host_token() -> str:
    """This host's generated token: read from ``$BENTOML_HOME/runner_token``, or created there
    (mode 0600) by whichever tier comes first."""
    path = token_path()
    try:
        return _read_or_create(path)
    except OSError as exc:
        raise InvalidArgument(
            f"cannot read or create the runner token file {path}: {exc.strerror or exc}; "
            f"set {TOKEN_ENV} (or pass --token) instead"
        ) from exc


def _read_or_create(path: str) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another tier linked its token first
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read(path)


def _read(path: str) -> str:
    """The token in ``path``, refused unless only its owner, this user, can read it: a token
    others can read keeps nobody out."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as file:
        info = os.fstat(file.fileno())
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidArgument(
                f"the runner token file {path} must belong to this user and be readable by "
                f"no one else (chmod 600 {path}), or set {TOKEN_ENV} instead"
            )
        token = file.read().strip()
    if not token:
        raise InvalidArgument(
            f"the runner token file {path} is empty: remove it, or set {TOKEN_ENV}"
        )
    return token
