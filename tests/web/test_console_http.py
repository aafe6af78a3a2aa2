"""The console over real HTTP: sign-in, sessions, CSRF, and roles enforced by the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from web.conftest import Console, login_token


def test_pages_need_a_session(console: Console) -> None:
    with console.client() as client:
        response = client.get("/console/cases")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=/console/cases")
        assert client.post("/console/alerts/open", data={"alert": "A-ms-0001"}).status_code == 303


def test_sign_in_sets_a_protected_cookie_and_a_bad_key_is_refused(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/login")
        token = login_token(form.text)
        bad = client.post("/console/login", data={"login_token": token, "credential": "bl_nope_x"})
        assert bad.status_code == 401
        assert "Sign-in failed" in bad.text
        good = client.post(
            "/console/login",
            data={"login_token": token, "credential": console.keys["ines"]},
        )
        assert good.status_code == 303
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback
        assert client.get("/console/").status_code == 200


def test_sign_in_form_needs_its_token(console: Console) -> None:
    with console.client() as client:
        response = client.post(
            "/console/login", data={"login_token": "forged", "credential": console.keys["ines"]}
        )
        assert response.status_code == 403


def test_every_form_needs_the_csrf_token(console: Console) -> None:
    client, csrf = console.signed_in("ines")
    data = {"alert": "A-ms-0001", "title": "t"}
    assert client.post("/console/alerts/open", data=data).status_code == 403
    assert client.post("/console/alerts/open", data={**data, "csrf": "x" + csrf}).status_code == 403
    cross = client.post(
        "/console/alerts/open",
        data={**data, "csrf": csrf},
        headers={"origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    ok = client.post("/console/alerts/open", data={**data, "csrf": csrf})
    assert ok.status_code == 303
    assert ok.headers["location"].startswith("/console/cases/C-")


def test_an_auditor_reads_everything_and_changes_nothing(console: Console) -> None:
    ines, ines_csrf = console.signed_in("ines")
    opened = ines.post(
        "/console/alerts/open", data={"alert": "A-ms-0001", "title": "t", "csrf": ines_csrf}
    )
    case_url = opened.headers["location"]
    client, csrf = console.signed_in("aud")
    for url in [
        "/console/",
        "/console/alerts",
        "/console/restrictions",
        "/console/tree",
        "/console/tree/unit-9900",
        "/console/ledger",
        case_url,
    ]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<form method="post" action="/console/cases' not in page.text
    refused = client.post(f"{case_url}/start-review", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "may not" in refused.text
    refused = client.post("/console/alerts/open", data={"alert": "A-ms-0002", "csrf": csrf})
    assert refused.status_code == 403


def test_an_external_reviewer_sees_only_its_own_cases(console: Console) -> None:
    ines, ines_csrf = console.signed_in("ines")
    first = ines.post(
        "/console/alerts/open", data={"alert": "A-ms-0001", "title": "one", "csrf": ines_csrf}
    ).headers["location"]
    second = ines.post(
        "/console/alerts/open", data={"alert": "A-ms-0002", "title": "two", "csrf": ines_csrf}
    ).headers["location"]
    assert (
        ines.post(f"{first}/assign", data={"principal": "ext", "csrf": ines_csrf}).status_code
        == 303
    )
    client, _ = console.signed_in("ext")
    listing = client.get("/console/cases")
    assert first.rsplit("/", 1)[1] in listing.text
    assert second.rsplit("/", 1)[1] not in listing.text
    assert client.get(first).status_code == 200
    assert client.get(second).status_code == 403
    for url in ["/console/alerts", "/console/restrictions", "/console/tree", "/console/ledger"]:
        assert client.get(url).status_code == 403, url
    assert "Alerts" not in client.get("/console/").text.split("</nav>")[0]


def test_a_revoked_key_ends_the_session(console: Console) -> None:
    from brightline.service.apikeys import list_keys, revoke_key

    client, _ = console.signed_in("aud")
    assert client.get("/console/").status_code == 200
    root = console.root()
    key_id = next(k.id for k in list_keys(console.store, actor=root) if k.principal == "aud")
    revoke_key(console.store, key_id, actor=root)
    # No waiting: the revocation drops the cached principal, the next request fails.
    assert client.get("/console/").status_code == 303


def test_the_tester_explains_and_refuses_unknown_names(console: Console) -> None:
    client, _ = console.signed_in("aud")
    page = client.get(
        "/console/tree/unit-9900/test",
        params={"service": "storage.blob", "operation": "write", "region": "westeurope"},
    )
    assert page.status_code == 200
    assert "ALLOW" in page.text
    unknown = client.get(
        "/console/tree/unit-9900/test",
        params={"service": "storage.blob", "operation": "write", "region": "mars-north"},
    )
    assert unknown.status_code == 422
    assert "ERROR" in unknown.text
    assert "mars-north" in unknown.text
    no_node = client.get(
        "/console/tree/nope/test",
        params={"service": "storage.blob", "operation": "write", "region": "westeurope"},
    )
    assert no_node.status_code == 404


def test_tiles_download_is_a_tarball_with_the_checkpoint(console: Console) -> None:
    import io
    import tarfile

    client, _ = console.signed_in("aud")
    response = client.get("/console/ledger/tiles.tar.gz")
    assert response.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        names = tar.getnames()
    assert "tiles/checkpoint" in names
    assert "log.pub" in names


def test_behind_tls_the_cookies_are_secure(console: Console) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy.
    client = console.client()
    tls = {"x-forwarded-proto": "https"}
    form = client.get("/console/login", headers=tls)
    assert "secure" in form.headers["set-cookie"].lower()
    token = login_token(form.text)
    # A Secure cookie is not sent back over plain HTTP; the client plays the proxy's part.
    client.cookies.set("bl_console_login", token)
    response = client.post(
        "/console/login",
        data={"login_token": token, "credential": console.keys["aud"]},
        headers=tls,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie


def test_sign_in_with_an_oidc_token(tmp_path: Path) -> None:
    import json
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from access_setup import ROOT, principal_of, provision
    from api.conftest import EXAMPLE, start_server
    from brightline.access import Role
    from brightline.config import Settings
    from brightline.service.intake import grant_role
    from brightline.service.ledger import ensure_key
    from brightline.service.worlds import import_world
    from brightline.store import open_store

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    issuer = "https://idp.example.test/"
    settings = Settings(
        data_dir=tmp_path / "d",
        oidc_issuer=issuer,
        oidc_audience="brightline",
        oidc_jwks=str(tmp_path / "jwks.json"),
        oidc_roles_claim="groups",
        oidc_role_map={"t-and-s-audit": "auditor"},
    )
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    ensure_key(settings)
    keys = provision(store, settings, {})
    root = principal_of(store, settings, keys[ROOT])
    import_world(store, EXAMPLE, actor=root)
    grant_role(store, "oidc:idp:olga", Role.AUDITOR, actor=root)
    server, thread, url = start_server(settings, store)

    def token(groups: list[str], *, expires: float) -> str:
        claims = {
            "sub": "olga",
            "iss": issuer,
            "aud": "brightline",
            "exp": int(expires),
            "groups": groups,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            form = client.get("/console/login")
            assert "or OIDC token" in form.text
            login = login_token(form.text)
            ok = client.post(
                "/console/login",
                data={
                    "login_token": login,
                    "credential": token(["t-and-s-audit"], expires=time.time() + 3),
                },
            )
            assert ok.status_code == 303
            assert (
                "Signed in as <strong>oidc:idp:olga</strong> (auditor)"
                in client.get("/console/").text
            )
            time.sleep(4)  # the token expires: the session ends with it
            assert client.get("/console/").status_code == 303
            again = client.get("/console/login")
            login = login_token(again.text)
            no_role = client.post(
                "/console/login",
                data={
                    "login_token": login,
                    "credential": token(["staff"], expires=time.time() + 60),
                },
            )
            assert no_role.status_code == 403
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_htmx_asks_for_fragments_and_gets_them(console: Console) -> None:
    client, _ = console.signed_in("aud")
    fragment = client.get("/console/tree", params={"q": "9900"}, headers={"hx-request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "unit-9900" in fragment.text
    boosted = client.get("/console/tree", headers={"hx-request": "true", "hx-boosted": "true"})
    assert "<html" in boosted.text
    verdict = client.get(
        "/console/tree/sub-9900-rescue/test",
        params={"service": "ai.speech", "operation": "transcribe", "region": "westeurope"},
        headers={"hx-request": "true"},
    )
    assert verdict.status_code == 200
    assert verdict.text.lstrip().startswith('<div class="verdict allow"')


def test_roles_count_only_where_the_store_grants_them(console: Console) -> None:
    from brightline.access import Role
    from brightline.service.intake import revoke_role

    client, csrf = console.signed_in("ines")
    assert client.get("/console/tree").status_code == 200
    revoke_role(console.store, "ines", Role.INVESTIGATOR, actor=console.root())
    revoke_role(console.store, "ines", Role.APPROVER, actor=console.root())
    # The key still says investigator and approver; the store no longer grants either:
    # the next request is refused and the session ends.
    refused = client.get("/console/tree")
    assert refused.status_code == 403
    assert "must also be granted" in refused.text
    lift = client.post("/console/restrictions/r-1/lift", data={"why": "x", "csrf": csrf})
    assert lift.status_code == 303
    assert lift.headers["location"].startswith("/console/login")
    again = console.client()
    form = again.get("/console/login")
    token = login_token(form.text)
    signin = again.post(
        "/console/login", data={"login_token": token, "credential": console.keys["ines"]}
    )
    assert signin.status_code == 403


def test_bad_filters_and_opaque_origins_are_refused(console: Console) -> None:
    client, csrf = console.signed_in("aud")
    assert client.get("/console/cases", params={"status": "bogus"}).status_code == 422
    response = client.post(
        "/console/alerts/open",
        data={"alert": "A-ms-0001", "csrf": csrf},
        headers={"origin": "null"},
    )
    assert response.status_code == 403


def test_the_breadcrumb_names_each_ancestor_once(console: Console) -> None:
    client, _ = console.signed_in("aud")
    page = client.get("/console/tree/sub-9900-ingest").text
    crumbs = page.split('aria-label="Breadcrumb"')[1].split("</nav>")[0]
    assert crumbs.count("sub-9900-ingest") == 1
    assert (
        crumbs.index("mod-freedonia")
        < crumbs.index("unit-9900")
        < crumbs.index("unit-9900-collection")
    )
