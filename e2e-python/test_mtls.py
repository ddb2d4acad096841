"""Interop: the unmodified `requests-oauth2client` with a TLS client certificate (RFC 8705).

The library has no mTLS authentication class of its own: RFC 8705 §2 authentication is the
client certificate on the connection plus `client_id` in the body, which is exactly its
`PublicApp` over a `requests.Session` with `cert=(cert, key)`. The server authenticates the
client by `tls_client_auth` (CA bundle + subject DN) and binds tokens to the certificate
(`cnf.x5t#S256`, RFC 8705 §3).
"""

from __future__ import annotations

import pytest
import requests
from requests_oauth2client import BearerToken, EndpointError, OAuth2Client, PublicApp

from browser import sign_in_and_consent
from harness import SCOPE, Server
from pki import Ca, Leaf
from test_requests_oauth2client import verified_access_token


def mtls_client(server: Server, cert: Leaf | None) -> OAuth2Client:
    return OAuth2Client.from_discovery_endpoint(
        issuer=server.issuer,
        session=server.session(log=True, cert=cert),
        auth=PublicApp(server.mtls_client_id),
        redirect_uri=server.redirect_uri,
        id_token_signed_response_alg="ES256",
    )


@pytest.fixture(scope="module")
def leaf(server: Server) -> Leaf:
    return server.client_ca.issue(server.mtls_client_id)


def test_discovery_advertises_mtls(server: Server) -> None:
    md = server.session().get(f"{server.issuer}/.well-known/openid-configuration").json()
    assert {"tls_client_auth", "self_signed_tls_client_auth"} <= set(md["token_endpoint_auth_methods_supported"])
    assert md["tls_client_certificate_bound_access_tokens"] is True


def test_client_credentials_gives_a_certificate_bound_token(server: Server, leaf: Leaf) -> None:
    client = mtls_client(server, leaf)
    token = client.client_credentials(scope="accounts")
    assert isinstance(token, BearerToken) and token.token_type.lower() == "bearer", token
    at = verified_access_token(client, token.access_token)
    assert at.claims["cnf"] == {"x5t#S256": leaf.x5t}, at.claims
    info = client.introspect_token(token)
    assert info["active"] is True and info.get("cnf") == {"x5t#S256": leaf.x5t}, info
    assert info.get("token_type") == "Bearer", info


def test_code_flow_userinfo_and_refresh_over_the_certificate(server: Server, leaf: Leaf) -> None:
    client = mtls_client(server, leaf)
    azr = client.authorization_request(scope=SCOPE)
    par = client.pushed_authorization_request(azr)
    ua = server.session(log=True)
    callback = sign_in_and_consent(ua, server.issuer, par.uri, server.username, server.password)
    response = azr.validate_callback(callback)
    token = client.authorization_code(response)
    assert token.token_type.lower() == "bearer"
    at = verified_access_token(client, token.access_token)
    assert at.claims["cnf"] == {"x5t#S256": leaf.x5t}
    assert token.id_token is not None and at.claims["sub"] == token.id_token.subject

    info = client.userinfo(token)
    assert info["sub"] == at.claims["sub"], info

    refreshed = client.refresh_token(token)
    assert verified_access_token(client, refreshed.access_token).claims["cnf"] == {"x5t#S256": leaf.x5t}

    # The token over a connection without a certificate: 401 invalid_token (RFC 8705 §3).
    no_cert = server.session(log=True)
    r = no_cert.get(f"{server.issuer}/userinfo", headers={"Authorization": f"Bearer {token.access_token}"})
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')

    # Refresh with another certificate of the same subject (it authenticates the client, but the
    # refresh token is bound to the first certificate).
    other = mtls_client(server, server.client_ca.issue(server.mtls_client_id))
    with pytest.raises(EndpointError) as refused:
        other.refresh_token(token)
    assert refused.value.error == "invalid_grant", refused.value


@pytest.mark.parametrize("case", ["no certificate", "another CA", "expired", "subject mismatch"])
def test_bad_certificates_are_invalid_client(server: Server, case: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cert = {
        "no certificate": lambda: None,
        "another CA": lambda: Ca(tmp_path, "other").issue(server.mtls_client_id),
        "expired": lambda: server.client_ca.issue(server.mtls_client_id, expired=True),
        "subject mismatch": lambda: server.client_ca.issue("someone-else"),
    }[case]()
    session = server.session(log=True, cert=cert)
    r = session.post(
        f"{server.issuer}/token",
        data={"grant_type": "client_credentials", "client_id": server.mtls_client_id, "scope": "accounts"},
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client", r.text
    assert isinstance(r, requests.Response)
