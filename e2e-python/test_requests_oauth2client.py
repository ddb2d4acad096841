"""Interop: the unmodified Python client `requests-oauth2client` against a real Shonin.

private_key_jwt (ES256) client authentication and DPoP (RFC 9449) on every grant; PAR
(RFC 9126) + PKCE S256 for the code flow; the sign-in and consent pages driven over HTTP.
"""

from __future__ import annotations

import pytest
import requests
from jwskate import SignedJwt
from requests_oauth2client import (
    AuthorizationRequest,
    BearerToken,
    DPoPKey,
    DPoPToken,
    EndpointError,
    OAuth2Client,
    RequestUriParameterAuthorizationRequest,
)

from browser import sign_in_and_consent
from harness import SCOPE, Server


def verified_access_token(client: OAuth2Client, access_token: str) -> SignedJwt:
    """The access token as an RFC 9068 JWT, signature checked against the server's `jwks_uri`."""
    jwt = SignedJwt(access_token)
    assert jwt.headers.get("typ") == "at+jwt", jwt.headers
    key = client.authorization_server_jwks.get_jwk_by_kid(jwt.kid)
    assert jwt.verify_signature(key, alg=jwt.alg), "access token signature (server jwks_uri)"
    return jwt


def code_flow(client: OAuth2Client, server: Server) -> tuple[AuthorizationRequest, DPoPToken]:
    """PAR (client-authenticated, DPoP-proofed, with dpop_jkt) → sign-in → consent → code →
    token, all with the library except the two HTML pages."""
    azr = client.authorization_request(scope=SCOPE)
    assert azr.dpop_key is not None, "dpop_bound_access_tokens=True gives the request a DPoP key"
    assert azr.code_challenge_method == "S256"

    par = client.pushed_authorization_request(azr)
    assert isinstance(par, RequestUriParameterAuthorizationRequest)
    assert par.request_uri.startswith("urn:ietf:params:oauth:request_uri:"), par.request_uri
    assert par.expires_at is not None, "PAR response has expires_in"

    ua = server.session(log=True)  # the user's browser: its own cookie jar
    callback = sign_in_and_consent(ua, server.issuer, par.uri, server.username, server.password)
    assert callback.startswith(server.redirect_uri + "?"), callback

    # validate_callback checks state, and iss against the discovered issuer when iss is present
    # (RFC 9207); the server advertises authorization_response_iss_parameter_supported, so the
    # test demands that it is.
    response = azr.validate_callback(callback)
    assert response.iss == server.issuer

    # code_verifier, redirect_uri and the same DPoP key come from `response`.
    #
    # validate=False only works around a bug of requests-oauth2client 1.8.0: after checking the
    # ID token, `BearerToken.validate_id_token` rebuilds the token as `self.__class__(...)`
    # without `_dpop_key`, which raises TypeError for every DPoPToken. The very same library
    # check runs below on a plain BearerToken copy (token_type plays no part in it): ES256
    # signature from jwks_uri, iss, aud, azp, exp, nonce, at_hash.
    token = client.authorization_code(response, validate=False)
    assert isinstance(token, DPoPToken), type(token)
    assert token.dpop_key is azr.dpop_key
    assert token.id_token is not None, "an ID token for scope openid"
    BearerToken(token.access_token, expires_at=token.expires_at, id_token=token.id_token).validate_id_token(
        client, response
    )
    return azr, token


def test_tls_trusts_only_the_dev_ca(server: Server) -> None:
    """The harness really checks certificates: the dev CA verifies the server, the system trust
    store does not."""
    with server.session() as pinned:
        assert pinned.get(f"{server.issuer}/readyz", timeout=10).status_code == 200
    with requests.Session() as system:
        system.trust_env = False  # verify=True: certifi's bundle, not the dev CA
        with pytest.raises(requests.exceptions.SSLError):
            system.get(f"{server.issuer}/readyz", timeout=10)


def test_client_credentials_with_dpop_and_private_key_jwt(client: OAuth2Client) -> None:
    dpop_key = DPoPKey.generate(alg="ES256")
    token = client.client_credentials(scope="accounts", dpop_key=dpop_key)

    assert isinstance(token, DPoPToken), type(token)
    assert token.token_type == "DPoP"
    assert token.dpop_key is dpop_key
    assert token.refresh_token is None, "no refresh token for client_credentials"
    assert token.expires_at is not None
    assert token.scope is None or "accounts" in token.scope.split()

    at = verified_access_token(client, token.access_token)
    assert at.claims["client_id"] == client.client_id
    assert at.claims["cnf"] == {"jkt": dpop_key.dpop_jkt}, "access token bound to the DPoP key"

    # Introspection (RFC 7662), authenticated with private_key_jwt by the library.
    info = client.introspect_token(token)
    assert info["active"] is True, info
    assert info["client_id"] == client.client_id, info
    assert info.get("cnf") == {"jkt": dpop_key.dpop_jkt}, info
    assert info.get("token_type") == "DPoP", info  # RFC 9449 §6.2

    # An unknown token is simply inactive.
    assert client.introspect_token("not-a-token", token_type_hint="access_token") == {"active": False}


def test_code_flow_then_refresh_with_the_same_dpop_key(client: OAuth2Client, server: Server) -> None:
    azr, token = code_flow(client, server)
    key = azr.dpop_key
    assert token.token_type == "DPoP"
    assert token.refresh_token, "a refresh token for authorization_code"
    assert token.id_token is not None
    at = verified_access_token(client, token.access_token)
    assert at.claims["cnf"] == {"jkt": key.dpop_jkt}
    assert at.claims["sub"] == token.id_token.subject

    # userinfo: the DPoPToken auth handler sends `Authorization: DPoP …` plus a proof with `ath`.
    info = client.userinfo(token)
    assert info["sub"] == token.id_token.subject, info
    assert info.get("preferred_username") == server.username, info

    # refresh_token grant: the library proves it with the key the refresh token is bound to.
    refreshed = client.refresh_token(token)
    assert isinstance(refreshed, DPoPToken), type(refreshed)
    assert refreshed.dpop_key is key
    assert refreshed.token_type == "DPoP"
    assert refreshed.access_token != token.access_token
    # Not rotated by default (FAPI 2.0 §5.3.2.1): no new refresh token is issued.
    assert refreshed.refresh_token in (None, token.refresh_token), refreshed.refresh_token
    at2 = verified_access_token(client, refreshed.access_token)
    assert at2.claims["cnf"] == {"jkt": key.dpop_jkt}
    assert at2.claims["sub"] == at.claims["sub"]

    info2 = client.userinfo(refreshed)
    assert info2["sub"] == info["sub"], info2

    # The old refresh token still works (no rotation), still with the same key.
    again = client.refresh_token(token)
    assert again.access_token not in (token.access_token, refreshed.access_token)

    # A DPoP-bound access token presented as a Bearer token is refused (RFC 9449 §7.1).
    with pytest.raises(requests.HTTPError) as bearer:
        client.userinfo(BearerToken(refreshed.access_token))
    assert bearer.value.response.status_code == 401


def test_refresh_with_another_dpop_key_is_refused(client: OAuth2Client, server: Server) -> None:
    azr, token = code_flow(client, server)
    assert token.refresh_token

    thief = DPoPKey.generate(alg="ES256")
    assert thief.dpop_jkt != azr.dpop_key.dpop_jkt
    with pytest.raises(EndpointError) as refused:
        client.token_request({"grant_type": "refresh_token", "refresh_token": token.refresh_token}, dpop_key=thief)
    assert refused.value.error == "invalid_dpop_proof", (refused.value.error, refused.value.description)
    assert refused.value.response.status_code in (400, 401), refused.value.response.status_code

    # Without any DPoP proof the bound refresh token is refused as well.
    with pytest.raises(EndpointError) as unproved:
        client.token_request({"grant_type": "refresh_token", "refresh_token": token.refresh_token}, dpop=False)
    assert unproved.value.error in ("invalid_dpop_proof", "invalid_grant"), unproved.value.error

    # The refusals did not hand anything out, and the rightful key still refreshes.
    ok = client.refresh_token(token)
    assert isinstance(ok, DPoPToken) and ok.dpop_key is azr.dpop_key


def test_the_librarys_default_audience_is_refused(server: Server, http: requests.Session) -> None:
    """requests-oauth2client's default `aud` is the URL of the endpoint it calls; FAPI 2.0
    Security Profile Final §5.3.2.1 item 8 lets the server accept only its issuer identifier,
    so the default is refused with invalid_client (docs/integrators.md says how to set it)."""
    from requests_oauth2client import InvalidClient, PrivateKeyJwt

    default_aud = OAuth2Client.from_discovery_endpoint(
        issuer=server.issuer,
        session=http,
        auth=PrivateKeyJwt(server.client_id, server.client_key),
        dpop_bound_access_tokens=True,
    )
    with pytest.raises(InvalidClient) as refused:
        default_aud.client_credentials(scope="accounts", dpop_key=DPoPKey.generate(alg="ES256"))
    assert "issuer identifier as a string" in (refused.value.description or "")
