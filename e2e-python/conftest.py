"""Fixtures: one real `shonin --dev serve` for the whole run, and an `OAuth2Client` of the
unmodified `requests-oauth2client` library configured from the server's discovery document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from requests_oauth2client import OAuth2Client, PrivateKeyJwt

from harness import Server, start_server


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = start_server()
    try:
        yield srv
    finally:
        code = srv.stop()
        # A clean shutdown on SIGTERM is part of what we test; a failure here shows as an error.
        assert code == 0, f"shonin serve should exit 0 on SIGTERM, exited {code}:\n{srv.log_tail()}"


@pytest.fixture
def http(server: Server) -> requests.Session:
    """A fresh CA-pinned session (its own cookie jar) that logs every exchange."""
    return server.session(log=True)


@pytest.fixture
def client(server: Server, http: requests.Session) -> OAuth2Client:
    """The library's client, built from discovery, authenticating with private_key_jwt (ES256)
    and DPoP-binding every token (a fresh ES256 DPoP key per grant unless one is given)."""
    return OAuth2Client.from_discovery_endpoint(
        issuer=server.issuer,
        session=http,
        # FAPI 2.0 Security Profile Final §5.3.2.1 item 8: the assertion's aud is the issuer, as
        # a string. The library's default is the URL of each endpoint, which Shonin refuses.
        auth=PrivateKeyJwt(server.client_id, server.client_key, aud=server.issuer),
        redirect_uri=server.redirect_uri,
        dpop_bound_access_tokens=True,
        id_token_signed_response_alg="ES256",
    )
