//! The demo's eleven steps: the title each is printed under and the rule it demonstrates, in
//! one line. The code of steps 1–6 is in `flow.rs`, of steps 7–11 in `tokens.rs`.

/// A step: its title and, in one line, the rule it shows.
#[derive(Debug)]
pub struct Step {
    pub title: &'static str,
    pub rule: &'static str,
}

pub const STEPS: [Step; 11] = [
    Step {
        title: "Discovery",
        rule: "The client learns the endpoints and what the server supports from its published \
               metadata (RFC 8414, OIDC Discovery), and fetches the keys that sign its tokens.",
    },
    Step {
        title: "Pushed authorization request (PAR)",
        rule: "FAPI 2.0 §5.3.2.2: the authenticated client pushes the whole request (RFC 9126) \
               with PKCE S256; a DPoP proof at PAR binds the coming code to its key (RFC 9449 §10).",
    },
    Step {
        title: "Authorization endpoint: sign-in page",
        rule: "The browser carries only client_id and request_uri; everything else comes from the \
               pushed request (FAPI 2.0 §5.3.2.2 item 2).",
    },
    Step {
        title: "Sign-in",
        rule: "The user signs in on the server's own page; the form's CSRF field must equal the \
               SameSite=Strict cookie (double submit), and the answer is a 303, never a 307.",
    },
    Step {
        title: "Consent page",
        rule: "The user sees who asks and for exactly what: amount and payee are rendered from the \
               server's stored copy of the pushed authorization_details (RFC 9396).",
    },
    Step {
        title: "Consent: approve",
        rule: "A 303 to the registered redirect URI with code, state and iss (FAPI 2.0 §5.3.2.2 \
               items 5 and 8, RFC 9207); the client checks iss and state before using the code.",
    },
    Step {
        title: "Token request (authorization_code + DPoP)",
        rule: "The code is redeemed with private_key_jwt, the PKCE verifier and a proof from the \
               same DPoP key (RFC 9449 §10.1): only sender-constrained tokens (FAPI 2.0 §5.3.2.1 \
               item 4).",
    },
    Step {
        title: "Userinfo with the DPoP-bound access token",
        rule: "Authorization: DPoP plus a fresh proof whose ath is the hash of the access token \
               (RFC 9449 §7.1); the resource server checks both (FAPI 2.0 §5.3.3).",
    },
    Step {
        title: "Refresh (same DPoP key)",
        rule: "A refresh needs a proof from the key the tokens are bound to; refresh tokens are not \
               rotated (FAPI 2.0 §5.3.2.1 item 8).",
    },
    Step {
        title: "Revoke the refresh token",
        rule: "RFC 7009: the client revokes its refresh token; that revokes the whole grant, \
               access tokens included (§2.1).",
    },
    Step {
        title: "Revoked grant: access token rejected",
        rule: "The resource server checks revocation status (FAPI 2.0 §5.3.3 item 3): the \
               refreshed access token of the revoked grant now gets 401.",
    },
];
