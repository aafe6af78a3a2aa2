"""OIDC bearer tokens: signature against a JWKS (a file or an https endpoint), issuer,
audience, expiry, role mapping."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.access import Role
from brightline.config import Settings
from brightline.errors import AuthenticationError
from brightline.service import access as auth
from brightline.service.intake import grant_role, revoke_role
from brightline.service.ledger import ensure_key
from brightline.service.worlds import import_world
from brightline.store import open_store

ISSUER = "https://idp.example.test/"
AUDIENCE = "brightline"


def test_oidc_tokens_map_role_claims(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(
        data_dir=tmp_path / "d",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(jwks),
        oidc_roles_claim="groups",
        oidc_role_map={"trust-and-safety-audit": "auditor"},
    )
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    ensure_key(settings)
    keys = provision(store, settings, {"dana": ["auditor"]})
    root = principal_of(store, settings, keys[ROOT])
    import_world(store, EXAMPLE, actor=root)
    # OIDC principals are qualified by their issuer's alias: the grant names that.
    grant_role(store, "oidc:idp:dana", Role.AUDITOR, actor=root)
    server, thread, url = start_server(settings, store)

    def token(**claims: object) -> str:
        base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "dana", "exp": int(time.time()) + 300}
        return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})

    try:
        with httpx.Client(base_url=url) as http:

            def get(tok: str) -> int:
                return http.get(
                    "/v1/ledger", headers={"authorization": f"Bearer {tok}"}
                ).status_code

            assert get(token(groups=["trust-and-safety-audit"])) == 200
            assert get(token(groups=["marketing"])) == 403
            assert get(token(groups=["trust-and-safety-audit"], aud="other")) == 401
            assert get(token(groups=["trust-and-safety-audit"], iss="https://evil/")) == 401
            assert get(token(groups=["trust-and-safety-audit"], exp=int(time.time()) - 10)) == 401
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode(
                {
                    "iss": ISSUER,
                    "aud": AUDIENCE,
                    "sub": "x",
                    "exp": int(time.time()) + 60,
                    "groups": ["trust-and-safety-audit"],
                },
                other,
                algorithm="RS256",
                headers={"kid": "k1"},
            )
            assert get(forged) == 401
            # A subject equal to an API-key principal ("dana", granted auditor as a key
            # principal; "root", the bootstrap admin) inherits nothing from it.
            revoke_role(store, "oidc:idp:dana", Role.AUDITOR, actor=root)
            assert get(token(groups=["trust-and-safety-audit"])) == 403
            assert get(token(sub="root", groups=["admin", "case-admin"])) == 403
            assert get(token(sub="bad sub", groups=["trust-and-safety-audit"])) == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


class _JwksServer:
    """An https JWKS endpoint on loopback, with a self-signed certificate the test trusts
    (through SSL_CERT_FILE), counting how often it is fetched."""

    def __init__(self, tmp_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cert = tmp_path / "jwks-cert.pem"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file = tmp_path / "jwks-key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.keys: list[dict[str, str]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.keys = [{**jwk, "kid": kid}]
        return key

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_https_jwks_is_cached_and_fetched_again_for_a_rotated_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = _JwksServer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(jwks.cert))
    monkeypatch.setattr(auth, "JWKS_COOLDOWN_SECONDS", 0.0)  # refetch at once on a new kid
    verifier = auth.OidcVerifier(
        Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=jwks.url)
    )

    def token(key: rsa.RSAPrivateKey, headers: dict[str, str]) -> str:
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "dana", "exp": int(time.time()) + 300}
        return jwt.encode(claims, key, algorithm="RS256", headers=headers)

    try:
        first = jwks.publish("k1")
        assert verifier.claims(token(first, {"kid": "k1"}))[0] == "oidc:idp:dana"
        assert verifier.claims(token(first, {"kid": "k1"}))[0] == "oidc:idp:dana"
        assert jwks.fetches == 1  # cached
        rotated = jwks.publish("k2")
        assert verifier.claims(token(rotated, {"kid": "k2"}))[0] == "oidc:idp:dana"
        assert jwks.fetches == 2  # the unknown kid made it fetch the new set
        assert verifier.claims(token(rotated, {}))[0] == "oidc:idp:dana"  # the only key
        with pytest.raises(AuthenticationError, match="k1"):
            verifier.claims(token(first, {"kid": "k1"}))  # retired
    finally:
        jwks.close()
    with pytest.raises(AuthenticationError):  # unreachable: refused, not a 500
        auth.OidcVerifier(
            Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=jwks.url)
        ).claims(token(rotated, {"kid": "k2"}))
