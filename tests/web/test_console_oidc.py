"""Console sign-in through an identity provider: the authorization code flow with PKCE
against a small OpenID provider on loopback that issues real signed ID tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.access import Role
from brightline.config import Settings
from brightline.service.intake import grant_role
from brightline.service.ledger import ensure_key
from brightline.service.worlds import import_world
from brightline.store import open_store

CLIENT = "brightline-console"


@dataclass
class Provider:
    """Signs in whoever asks (``groups`` chosen by the test), as a real provider would
    after its own login page; checks the client, the redirect URI and PKCE."""

    url: str
    key: Any
    groups: list[str] = field(default_factory=lambda: ["t-and-s-investigators"])
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            assert query["response_type"] == "code"
            assert query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            provider.codes[code] = query
            target = (
                query["redirect_uri"]
                + "?"
                + urllib.parse.urlencode({"code": code, "state": query["state"]})
            )
            self.send_response(302)
            self.send_header("location", target)
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            form = dict(urllib.parse.parse_qsl(body))
            asked = provider.codes.pop(form.get("code", ""), None)
            challenge = (
                base64.urlsafe_b64encode(
                    hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                )
                .rstrip(b"=")
                .decode()
            )
            if (
                asked is None
                or form.get("client_id") != CLIENT
                or form.get("client_secret") != "s3cret"
                or form.get("redirect_uri") != asked["redirect_uri"]
                or challenge != asked["code_challenge"]
            ):
                provider.refused.append(form.get("code", ""))
                self.send_response(400)
                self.end_headers()
                return
            claims = {
                "sub": "olga",
                "iss": provider.url,
                "aud": CLIENT,
                "exp": int(time.time()) + 300,
                "nonce": asked["nonce"],
                "groups": provider.groups,
            }
            token = jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": "k1"})
            payload = json.dumps({"id_token": token, "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def provider() -> Iterator[Provider]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    provider = Provider(f"http://127.0.0.1:{server.server_address[1]}", key)
    server.RequestHandlerClass = _handler(provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def console_url(tmp_path: Path, provider: Provider) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key()))
    jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(
        data_dir=tmp_path / "d",
        oidc_issuer=provider.url,
        oidc_audience=CLIENT,
        oidc_jwks=str(tmp_path / "jwks.json"),
        oidc_roles_claim="groups",
        oidc_role_map={"t-and-s-investigators": "investigator"},
        oidc_client_id=CLIENT,
        oidc_client_secret=SecretStr("s3cret"),
        oidc_authorization_endpoint=f"{provider.url}/authorize",
        oidc_token_endpoint=f"{provider.url}/token",
    )
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    ensure_key(settings)
    keys = provision(store, settings, {})
    root = principal_of(store, settings, keys[ROOT])
    import_world(store, EXAMPLE, actor=root)
    # The token's roles count where the store grants them too, to the principal named by
    # the issuer's alias and the subject.
    grant_role(store, "oidc:idp:olga", Role.INVESTIGATOR, actor=root)
    server, thread, url = start_server(settings, store)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_sign_in_through_the_identity_provider(console_url: str, provider: Provider) -> None:
    with httpx.Client(base_url=console_url, timeout=30, follow_redirects=True) as browser:
        login = browser.get("/console/login")
        assert "Sign in with your identity provider" in login.text
        home = browser.get("/console/login/oidc", params={"next": "/console/tree"})
        assert home.status_code == 200
        assert str(home.url).endswith("/console/tree")
        assert "Signed in as <strong>oidc:idp:olga</strong> (investigator)" in home.text
        # The callback cannot be replayed, even with the sign-in's cookie: used once.
        cookie = home.history[0].cookies["bl_console_oidc"]
        callback = next(r for r in home.history if "/callback" in str(r.url))
        browser.cookies.set("bl_console_oidc", cookie)
        replay = browser.get(str(callback.url))
        assert replay.status_code == 401
        assert "already used" in replay.text
        # A forged or altered cookie is refused.
        browser.cookies.set("bl_console_oidc", cookie[:-4] + "AAAA")
        forged = browser.get(str(callback.url))
        assert forged.status_code == 401
        assert "another browser" in forged.text


def test_a_callback_from_another_browser_is_refused(console_url: str, provider: Provider) -> None:
    with httpx.Client(base_url=console_url, timeout=30) as victim:
        start = victim.get("/console/login/oidc")
        assert start.status_code == 303
        authorize = httpx.get(start.headers["location"])  # the provider redirects back
        callback = authorize.headers["location"]
    with httpx.Client(timeout=30) as attacker:  # no state cookie
        response = attacker.get(callback)
        assert response.status_code == 401
        assert "another browser" in response.text


def test_no_role_no_session(console_url: str, provider: Provider) -> None:
    provider.groups = ["staff"]
    with httpx.Client(base_url=console_url, timeout=30, follow_redirects=True) as browser:
        response = browser.get("/console/login/oidc")
        assert response.status_code == 403
        assert browser.get("/console/").url.path == "/console/login"


def test_a_sign_in_started_through_one_server_finishes_through_another() -> None:
    """Servers holding the same secret (the ledger key's seed) read each other's sign-in
    cookies; a server with another secret does not."""
    from brightline.errors import AuthenticationError
    from brightline.web.oidc import SignIns

    settings = Settings(
        oidc_client_id="console",
        oidc_authorization_endpoint="https://idp.example/authorize",
        oidc_token_endpoint="https://idp.example/token",
        oidc_issuer="https://idp.example",
        oidc_audience="console",
        oidc_jwks="https://idp.example/jwks",
    )
    secret = secrets.token_bytes(32)
    cookie, target = SignIns(secret).start(settings, redirect_uri="https://x/cb", next="/console/")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["state"][0]
    with pytest.raises(AuthenticationError, match="another browser"):
        SignIns(secrets.token_bytes(32)).finish(state, cookie)
    assert SignIns(secret).finish(state, cookie).state == state
