"""OIDC bearer tokens: signature against a JWKS file, issuer, audience, expiry, role mapping."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from access_setup import ROOT, principal_of, provision
from api.conftest import EXAMPLE, start_server
from brightline.access import Role
from brightline.config import Settings
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
