"""Gateway benchmark on loopback: the latency nginx + auth_request (or Envoy + ext_authz)
with Brightline's check adds in front of an upstream, against the upstream called
directly, in the same run.

    PYTHONPATH=src python bench/gateway.py [--seconds 5] [--connections 1] [--proxy envoy]

Starts what the gateway tests start (tests/gateway_rig.py): ``brightline serve`` on the
example world, a small Python upstream and Debian's nginx running the shipped
``deploy/nginx`` example (or Envoy running ``deploy/envoy/envoy.yaml``). ``wrk`` (Debian's
package) then sends, one row at a time, for
``--seconds`` over ``--connections`` keep-alive connections:

1. the upstream directly (the reference);
2. Brightline's check endpoint directly (what the subrequest costs on its own);
3. the gateway → its check → upstream, an allowed call;
4. the gateway → its check, a denied call (403 with the customer notice, no upstream).

For each: requests/s, p50 and p99 latency, and CPU milliseconds per request of the
processes involved (read from /proc), then the latency the gateway and its check add to the
direct call (p50 and p99) and the ratio. Everything shares the machine's cores with the
load generator, as it would not in production.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the rig the gateway tests use: one way to start it

from gateway_rig import Gateway, gateway, host  # noqa: E402

console = Console(width=130)
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Row:
    name: str
    rate: float
    p50: float  # seconds
    p99: float
    cpu_ms: dict[str, float]  # per request, by process
    non_2xx: int


def _seconds(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert found, text
    return float(found.group(1)) * _UNITS[found.group(2)]


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of its children (nginx's workers; Envoy's threads)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total


def wrk(
    rig: Gateway,
    name: str,
    url: str,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    involved: tuple[str, ...],
) -> Row:
    before = {p: _cpu(rig.pids[p]) for p in involved}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = {p: _cpu(rig.pids[p]) for p in involved}
    total = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not (total and rate and p50 and p99):
        raise RuntimeError(f"unexpected wrk output: {out}")
    n = max(int(total.group(1)), 1)
    return Row(
        name,
        float(rate.group(1)),
        _seconds(p50.group(1)),
        _seconds(p99.group(1)),
        {p: (after[p] - before[p]) * 1000 / n for p in involved},
        int(non_2xx.group(1)) if non_2xx else 0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--proxy", choices=("nginx", "envoy"), default="nginx")
    args = parser.parse_args()
    proxy = args.proxy
    via = "nginx + auth_request" if proxy == "nginx" else "Envoy + ext_authz"
    if shutil.which("wrk") is None:
        console.print("wrk is not installed: apt-get install wrk")
        return 2
    allowed = host("sub-hq-mail")
    denied = host("sub-9900-archive")
    run = {"seconds": args.seconds, "connections": args.connections}
    with (
        tempfile.TemporaryDirectory(prefix="brightline-gateway-bench-") as tmp,
        gateway(
            Path(tmp), appeal_contact="appeals@provider.example", quiet=True, proxy=proxy
        ) as rig,
    ):
        check = {
            "X-API-Key": rig.point_key,
            "X-Brightline-Node": "sub-hq-mail",
            "X-Brightline-Service": "storage.blob",
            "X-Brightline-Operation": "read",
            "X-Brightline-Region": "westeurope",
        }
        # Warm up each path once (imports, first connections), not measured.
        for url, headers in (
            (rig.upstream, {"Host": allowed}),
            (f"{rig.brightline}/v1/gateway/check", check),
            (rig.url, {"Host": allowed}),
        ):
            wrk(rig, "warm-up", url, headers, seconds=1, connections=1, involved=())
        rows = [
            wrk(rig, "upstream, direct", rig.upstream, {"Host": allowed}, **run,
                involved=("upstream",)),
            wrk(rig, "Brightline check, direct", f"{rig.brightline}/v1/gateway/check", check,
                **run, involved=("brightline",)),
            wrk(rig, f"{via} → upstream (allowed)", rig.url, {"Host": allowed},
                **run, involved=(proxy, "brightline", "upstream")),
            wrk(rig, f"{via} (denied, 403)", rig.url, {"Host": denied}, **run,
                involved=(proxy, "brightline", "upstream")),
        ]  # fmt: skip
    direct, _, through, refused = rows
    if direct.non_2xx or through.non_2xx:
        raise RuntimeError(f"allowed calls were refused: {rows}")
    if not refused.non_2xx or refused.cpu_ms["upstream"] >= 0.01:
        raise RuntimeError(f"denied calls were not refused before the upstream: {refused}")
    table = Table(
        title=f"Gateway latency on loopback (wrk, {args.connections} connection(s), "
        f"{args.seconds:g} s a row; everything on the same cores)"
    )
    for column in ("path", "requests/s", "p50", "p99", "CPU ms/request"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in rows:
        cpu = ", ".join(f"{p} {ms:.3f}" for p, ms in row.cpu_ms.items())
        table.add_row(
            row.name, f"{row.rate:,.0f}", f"{row.p50 * 1e3:.2f} ms", f"{row.p99 * 1e3:.2f} ms", cpu
        )
    console.print(table)
    added50 = through.p50 - direct.p50
    added99 = through.p99 - direct.p99
    console.print(
        f"{via} adds {added50 * 1e3:.2f} ms at p50 and {added99 * 1e3:.2f} ms "
        f"at p99 to a direct call: {through.p50 / direct.p50:.2f}× the direct p50, "
        f"{through.p99 / direct.p99:.2f}× its p99; of it, Brightline's check alone takes "
        f"{rows[1].p50 * 1e3:.2f} ms at p50."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
