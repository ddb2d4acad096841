"""Plays the user on the authorization endpoint's HTML pages over plain HTTP: a cookie-keeping
`requests.Session` (the CA-pinned one), an HTML form parser (stdlib `html.parser`) and a driver
that walks sign-in and consent. No DOM, no browser; redirects are never followed automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests


@dataclass
class Form:
    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            self._current = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._current)
        elif self._current is not None and tag == "input":
            name = a.get("name")
            if not name:
                return
            if a.get("type", "text").lower() == "hidden":
                self._current.hidden[name] = a.get("value", "")
            else:
                self._current.fields.append(name)
        elif self._current is not None and tag == "button" and a.get("name"):
            self._current.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_forms(html: str) -> list[Form]:
    p = _FormParser()
    p.feed(html)
    p.close()
    return p.forms


def find_form(html: str, action: str) -> Form:
    for f in parse_forms(html):
        if f.action == action:
            return f
    raise AssertionError(f'expected a <form action="{action}"> on the page, got:\n{html[:2000]}')


@dataclass
class UserAgent:
    """A same-origin "browser" for one issuer: GET and form POST with cookies."""

    session: requests.Session
    issuer: str
    history: list[str] = field(default_factory=list)

    def get(self, url: str) -> requests.Response:
        r = self.session.get(
            url,
            headers={"Accept": "text/html", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
            allow_redirects=False,
            timeout=10,
        )
        self._note("GET", url, r)
        return r

    def submit(self, form: Form, **extra: str) -> requests.Response:
        assert form.method == "post", f"form {form.action} should use POST"
        url = urljoin(self.issuer, form.action)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.issuer))
        r = self.session.post(
            url,
            data={**form.hidden, **extra},
            headers={
                "Accept": "text/html",
                "Origin": origin,
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Mode": "navigate",
            },
            allow_redirects=False,
            timeout=10,
        )
        self._note("POST", url, r)
        return r

    def _note(self, method: str, url: str, r: requests.Response) -> None:
        loc = r.headers.get("Location")
        self.history.append(f"{method} {url} -> {r.status_code}" + (f" (Location: {loc})" if loc else ""))

    def describe(self) -> str:
        return "\n".join(self.history)


def _expect_html(ua: UserAgent, r: requests.Response, what: str) -> str:
    assert r.status_code == 200, f"{what}: expected 200, got {r.status_code}\n{ua.describe()}\n{r.text[:1500]}"
    assert r.headers.get("Content-Type", "").lower().startswith("text/html"), f"{what}: content-type"
    return r.text


def _expect_see_other(ua: UserAgent, r: requests.Response, what: str) -> str:
    assert r.status_code == 303, (
        f"{what}: expected 303 See Other (FAPI 2.0 §5.3.2.2), got {r.status_code}\n{ua.describe()}\n{r.text[:1500]}"
    )
    loc = r.headers.get("Location")
    assert loc, f"{what}: 303 without a Location header"
    return urljoin(ua.issuer, loc)


def sign_in_and_consent(
    session: requests.Session, issuer: str, authorization_url: str, username: str, password: str, decision: str = "approve"
) -> str:
    """Opens `authorization_url`, signs in, answers the consent page with `decision`, and returns
    the absolute URL the server redirected to (the client's redirect_uri with code/state/iss)."""
    ua = UserAgent(session, issuer)

    page = _expect_html(ua, ua.get(authorization_url), "GET /authorize (sign-in page)")
    sign_in = find_form(page, "/authorize/sign-in")
    csrf = session.cookies.get("__Host-shonin_csrf")
    assert csrf, f"GET /authorize did not set __Host-shonin_csrf\n{ua.describe()}"
    assert sign_in.hidden.get("csrf") == csrf, "the hidden csrf input equals the CSRF cookie"
    assert "request_uri" in sign_in.hidden and "client_id" in sign_in.hidden, sign_in

    back = _expect_see_other(ua, ua.submit(sign_in, username=username, password=password), "POST /authorize/sign-in")
    assert urlsplit(back).netloc == urlsplit(issuer).netloc, "sign-in redirects back to the authorization server"
    assert urlsplit(back).path == "/authorize", "sign-in redirects back to /authorize"
    assert session.cookies.get("__Host-shonin_session"), f"sign-in did not set __Host-shonin_session\n{ua.describe()}"

    page = _expect_html(ua, ua.get(back), "GET /authorize (consent page)")
    consent = find_form(page, "/authorize/consent")
    decisions = [v for n, v in consent.buttons if n == "decision"]
    assert decision in decisions, f"consent form offers decision={decision} (has: {decisions})"

    return _expect_see_other(ua, ua.submit(consent, decision=decision), "POST /authorize/consent")
