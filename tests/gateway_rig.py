"""A real gateway on loopback, for the nginx test and ``bench/gateway.py``: Debian's nginx
running the shipped example (``deploy/nginx/nginx.conf`` and its snippets, only its ports
changed) in front of a small upstream (``upstream_echo.py``), checking every call with
``brightline serve`` on the example world, whose restriction r-0001 disables storage for
unit 9900 in westeurope.

The example derives the subscription and the region from the host name, so a call names
them in its ``Host`` header (:func:`host`)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from serving_process import SERVE, brightline_env, free_port, serving

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "nginx"
EXAMPLE = ROOT / "examples" / "world"
UPSTREAM = Path(__file__).with_name("upstream_echo.py")
BRIGHTLINE = (sys.executable, "-c", "from brightline.cli import main; main()")
#: Where Debian's package puts it; root's PATH has /usr/sbin, other users' may not.
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/bin/nginx")


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    return found or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)


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
    nginx_log: Path
    #: The process ids of "brightline", "upstream" and "nginx" (its master).
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


def _run(command: Sequence[str], env: dict[str, str]) -> str:
    done = subprocess.run(list(command), env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def gateway(
    directory: Path, *, appeal_contact: str, quiet: bool = False, role: str = "enforcement-point"
) -> Iterator[Gateway]:
    """Brightline, the upstream and nginx, each in a process of its own, stopped on exit.
    ``quiet`` keeps the upstream from logging each request (for the benchmark); ``role``
    is the one the gateway's key carries and is granted."""
    nginx = nginx_binary()
    assert nginx is not None, "nginx is not installed (scripts/test-deps installs it)"
    directory.mkdir(parents=True, exist_ok=True)
    ports = {"brightline": free_port(), "upstream": free_port(), "nginx": free_port()}
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
    url = f"http://127.0.0.1:{ports['nginx']}"
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
        config = _example_config(
            directory,
            port=ports["nginx"],
            brightline=ports["brightline"],
            upstream=ports["upstream"],
        )
        (directory / "brightline-key.conf").write_text(
            f'proxy_set_header X-API-Key "{key.group(1)}";\n'
        )
        (directory / "brightline-key.conf").chmod(0o600)
        command = [
            nginx,
            "-p", str(directory),
            "-c", str(config),
            "-e", "stderr",
            "-g", f"daemon off; pid {directory / 'nginx.pid'};",
        ]  # fmt: skip
        # Ready once it allows a call; with a key Brightline refuses, once it refuses one.
        allowed = httpx.Request("GET", f"{url}/", headers={"host": host("sub-hq-mail")})
        statuses = (200,) if role == "enforcement-point" else (503,)
        pids["nginx"] = stack.enter_context(
            serving(command, ready=allowed, statuses=statuses, log=logs["nginx"])
        ).pid
        yield Gateway(
            url, upstream, brightline, admin, key.group(1), logs["upstream"], logs["nginx"], pids
        )
