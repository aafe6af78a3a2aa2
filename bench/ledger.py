"""Ledger benchmark: tiled appends, proofs and full verification at 1M entries.

Run: ``.venv/bin/python bench/ledger.py [--leaves N] [--batch N] [--db URL]
[--audit-leaves N] [--audit-db URL] [--only-audit]``

Measures, in one run and over the same entries:

- the reference: a plain in-memory RFC 9162 root computation (leaf hashes, then
  MTH by ``root_from_leaves``);
- batched appends through :class:`TileAppender` into an in-memory tile store, and
  into the persistent log in the store (SQLite by default, or ``--db URL``):
  entries and hash tiles inserted in one transaction per batch, as a rate and as
  a ratio of the reference rate (floor: 25 %), and one entry per transaction;
- inclusion and consistency proof time at full size (floor: 1 ms each);
- full verification of the exported tlog-tiles directory and of the stored log
  (floor: 10 s);
- ``ledger verify`` with the store audit over a store whose history has ``--audit-leaves``
  changes (1M by default: restriction, case and signal rows written in bulk by
  ``store_history``, each with the outbox event and signed ledger entry the services
  would have written), next to the tree check alone and, back to back, the audit's walk
  (the reference) and its fast path, alone and in ``ledger verify`` (floor: 10 s). On
  SQLite (no ``--audit-db``) the store is built once and kept under
  ``$TMPDIR/brightline-bench-audit``, keyed by its size, ``store_history.py`` and the
  migrations: a rerun times the audit at once.

Exits 1 when a floor is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from brightline.ledger import (
    Checkpoint,
    MemoryHashStore,
    NoteSigner,
    TileAppender,
    TiledTree,
    TileStore,
    TileWrite,
    export_tiles,
    generate_key,
    leaf_hash,
    root_from_leaves,
    sign_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_tile_dir,
)

ORIGIN = "bench.brightline.example/ledger"


@dataclass(frozen=True)
class Result:
    metric: str
    value: str
    floor: str = ""
    ok: bool | None = None


@dataclass(frozen=True)
class Backend:
    """Where the tiled log lives: a tile store and how one batch is committed."""

    name: str
    store: TileStore
    commit: Callable[[Sequence[TileWrite]], None]
    """Persist one batch's tile writes atomically (one transaction for a database)."""


def memory_backend() -> Backend:
    store = MemoryHashStore()
    return Backend("memory", store, store.write_tiles)


def make_entries(n: int) -> list[bytes]:
    # Entries shaped like the public form of a ledger event (~100 bytes).
    return [
        (
            f'{{"seq":{i},"type":"restriction.approved","time":"2025-09-25T00:00:00Z",'
            f'"commitment":"{i:064x}"}}'
        ).encode()
        for i in range(n)
    ]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_reference(entries: list[bytes]) -> tuple[float, bytes]:
    """The auditor's reference: leaf hashes, then verify.root_from_leaves (a carry stack)."""
    seconds, root = timed(lambda: root_from_leaves([leaf_hash(e) for e in entries]))
    assert isinstance(root, bytes)
    return seconds, root


def _pairwise_root(entries: list[bytes]) -> bytes:
    # Level by level; a lone last node moves up unchanged, which gives the RFC 9162
    # split at the largest power of two.
    sha256 = hashlib.sha256
    level = [sha256(b"\x00" + e).digest() for e in entries]
    while len(level) > 1:
        lone = [level.pop()] if len(level) % 2 else []
        it = iter(level)
        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=True)] + lone
    return level[0]


def bench_pairwise(entries: list[bytes]) -> tuple[float, bytes]:
    """A faster plain reference: hash level by level with list comprehensions."""
    seconds, root = timed(lambda: _pairwise_root(entries))
    assert isinstance(root, bytes)
    return seconds, root


def bench_appends(backend: Backend, entries: list[bytes], batch: int) -> tuple[float, bytes]:
    appender = TileAppender()

    def run() -> bytes:
        for i in range(0, len(entries), batch):
            writes = appender.append([leaf_hash(e) for e in entries[i : i + batch]])
            backend.commit(writes)
        return appender.root()

    seconds, root = timed(run)
    assert isinstance(root, bytes)
    return seconds, root


def time_each(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def bench_proofs(tree: TiledTree, size: int, samples: int) -> tuple[list[float], list[float]]:
    rng = random.Random(9162)
    root = tree.root(size)
    indices = [rng.randrange(size) for _ in range(samples)] + [0, size - 1]
    olds = [rng.randrange(1, size + 1) for _ in range(samples)] + [1, size - 1]
    inclusion = time_each([partial(tree.inclusion_proof, i, size) for i in indices])
    consistency = time_each([partial(tree.consistency_proof, o, size) for o in olds])
    # Untimed: every timed proof must also verify.
    for i in indices[:50]:
        assert verify_inclusion(
            tree.leaf_hash(i, size), i, size, tree.inclusion_proof(i, size), root
        )
    for o in olds[:50]:
        assert verify_consistency(o, size, tree.consistency_proof(o, size), tree.root(o), root)
    return inclusion, consistency


def cpu_timed(fn: Callable[[], object]) -> tuple[float, str]:
    """Wall seconds, and the CPU time of this process and of the processes it started
    meanwhile (the audit's second one; with ``ledger verify``, the tree check's too): what
    other work on the machine changes little."""
    own, children = time.process_time(), _children_cpu()
    seconds, _ = timed(fn)
    own, children = time.process_time() - own, _children_cpu() - children
    return seconds, f"CPU {own:.1f} s" + (f" + {children:.1f} s" if children >= 0.05 else "")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def run(leaves: int, batch: int, samples: int, backend: Backend) -> list[Result]:
    entries = make_entries(leaves)
    results: list[Result] = []

    stack_seconds, ref_root = bench_reference(entries)
    pair_seconds, pair_root = bench_pairwise(entries)
    assert pair_root == ref_root, "the two reference roots differ"
    results.append(
        Result("reference: root_from_leaves (stack)", f"{leaves / stack_seconds:,.0f} leaves/s")
    )
    results.append(
        Result("reference: level-by-level pairwise", f"{leaves / pair_seconds:,.0f} leaves/s")
    )
    # The floor is taken against the faster of the two plain in-memory computations.
    ref_rate = leaves / min(stack_seconds, pair_seconds)

    app_seconds, app_root = bench_appends(backend, entries, batch)
    assert app_root == ref_root, "tiled root differs from the reference root"
    app_rate = leaves / app_seconds
    ratio = app_rate / ref_rate
    results.append(
        Result(f"tiled appends ({backend.name}, batch {batch})", f"{app_rate:,.0f} leaves/s")
    )
    results.append(
        Result("  ratio to the faster reference", f"{ratio:.0%}", "≥ 25%", ratio >= 0.25)
    )

    # A long-lived tree, as a log server keeps: upper tiles stay in its cache.
    tree = TiledTree(backend.store)
    inclusion, consistency = bench_proofs(tree, leaves, samples)
    for name, times in (("inclusion proof", inclusion), ("consistency proof", consistency)):
        median = statistics.median(times)
        p99 = sorted(times)[int(len(times) * 0.99) - 1]
        results.append(
            Result(f"{name} at {leaves:,} (median)", ms(median), "≤ 1 ms", median <= 0.001)
        )
        results.append(Result(f"  {name} p99 / max", f"{ms(p99)} / {ms(max(times))}"))
    # Worst case: a fresh tree per proof, every tile read and hashed from the store.
    rng = random.Random(6962)
    cold_incl = time_each(
        [
            partial(TiledTree(backend.store).inclusion_proof, rng.randrange(leaves), leaves)
            for _ in range(200)
        ]
    )
    cold_cons = time_each(
        [
            partial(TiledTree(backend.store).consistency_proof, rng.randrange(1, leaves), leaves)
            for _ in range(200)
        ]
    )
    results.append(
        Result(
            "  cold cache: inclusion / consistency (median)",
            f"{ms(statistics.median(cold_incl))} / {ms(statistics.median(cold_cons))}",
        )
    )

    signer = generate_key(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, leaves, app_root), signer)
    with tempfile.TemporaryDirectory(prefix="brightline-tiles-") as tmp:
        directory = Path(tmp)
        export_seconds, _ = timed(
            lambda: export_tiles(
                directory,
                source=backend.store,
                entries=entries,
                signed_checkpoint=note,
                verifier=signer.verifier(),
            )
        )
        results.append(Result("export tlog-tiles directory", f"{export_seconds:.2f} s"))
        verify_seconds, _ = timed(lambda: verify_tile_dir(directory, signer.verifier()))
        results.append(
            Result(
                f"full verification of {leaves:,} from tiles",
                f"{verify_seconds:.2f} s",
                "≤ 10 s",
                verify_seconds <= 10.0,
            )
        )
    return results


def render(results: list[Result], console: Console) -> None:
    table = Table(title="brightline ledger benchmark")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("floor", justify="right")
    table.add_column("ok", justify="center")
    for r in results:
        ok = "" if r.ok is None else ("[green]yes[/green]" if r.ok else "[red]NO[/red]")
        table.add_row(r.metric, r.value, r.floor, ok)
    console.print(table)


def run_store(
    url: str, entries: list[bytes], batch: int, samples: int, ref_rate: float
) -> list[Result]:
    """The persistent log: entries and tiles in the store, then proofs and verification."""
    from datetime import UTC, datetime

    from brightline.service.ledger import verify_store
    from brightline.store import open_store
    from brightline.store.ledger import NewLedgerEntry, SqlTileStore, add_checkpoint, insert_entries

    leaves = len(entries)
    at = datetime(2025, 9, 25, tzinfo=UTC)
    salt = bytes(32)

    def rows(start: int, chunk: list[bytes]) -> list[NewLedgerEntry]:
        return [NewLedgerEntry(start + i + 1, e, salt) for i, e in enumerate(chunk)]

    results: list[Result] = []
    with open_store(url) as store:
        appender = TileAppender()

        def append_all() -> bytes:
            for start in range(0, leaves, batch):
                chunk = entries[start : start + batch]
                with store.write() as session:
                    insert_entries(session, start, rows(start, chunk))
                    SqlTileStore(session).write_tiles(appender.append(leaf_hash(e) for e in chunk))
            return appender.root()

        seconds, root = timed(append_all)
        rate = leaves / seconds
        results.append(
            Result(f"store appends ({store.backend}, batch {batch})", f"{rate:,.0f} leaves/s")
        )
        results.append(
            Result(
                "  ratio to the faster reference",
                f"{rate / ref_rate:.0%}",
                "≥ 25%",
                rate / ref_rate >= 0.25,
            )
        )
        signer = generate_key(ORIGIN)
        note = sign_checkpoint(Checkpoint(ORIGIN, leaves, root), signer)  # type: ignore[arg-type]
        with store.write() as session:
            add_checkpoint(session, size=leaves, root=root, note=note, at=at)  # type: ignore[arg-type]

        one = min(2_000, leaves)
        extra = make_entries(leaves + one)[leaves:]

        def one_per_transaction() -> None:
            for i, entry in enumerate(extra):
                with store.write() as session:
                    insert_entries(session, leaves + i, rows(leaves + i, [entry]))
                    SqlTileStore(session).write_tiles(appender.append([leaf_hash(entry)]))

        seconds, _ = timed(one_per_transaction)
        results.append(
            Result("store appends, one per transaction", f"{one / seconds:,.0f} leaves/s")
        )

        with store.read() as session:
            tree = TiledTree(SqlTileStore(session))
            inclusion, consistency = bench_proofs(tree, leaves, samples)
        for name, times in (("inclusion proof", inclusion), ("consistency proof", consistency)):
            median = statistics.median(times)
            results.append(
                Result(
                    f"store {name} at {leaves:,} (median)", ms(median), "≤ 1 ms", median <= 0.001
                )
            )
        seconds, _ = timed(lambda: verify_store(store, signer.verifier()))
        results.append(
            Result(
                f"full verification of {leaves:,} from the store",
                f"{seconds:.2f} s",
                "≤ 10 s",
                seconds <= 10,
            )
        )
    return results


#: Where a built audit store is kept between runs (SQLite only), one per generator
#: version and size: ``_cached_history``.
CACHE: Final = Path(tempfile.gettempdir()) / "brightline-bench-audit"


def _cached_history(leaves: int) -> Path:
    """The cache directory of a store history of ``leaves`` changes, keyed by what builds
    it: the size, the generator's source and the schema's migrations. A directory whose
    store was written whole holds ``history.db`` and ``signer.key``."""
    import brightline.store

    digest = hashlib.sha256(str(leaves).encode())
    migrations = Path(brightline.store.__file__).parent / "migrations"
    sources = [Path(__file__).parent / "store_history.py", *sorted(migrations.rglob("*.py"))]
    for source in sources:
        digest.update(source.read_bytes())
    return CACHE / f"{leaves}-{digest.hexdigest()[:16]}"


def _scratch(cached: Path) -> Path:
    """An empty directory beside the cache to build the store in, renamed into place when
    written whole (``_keep``)."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))


def _keep(scratch: Path, cached: Path, signer: NoteSigner) -> None:
    """Move the store just built in ``scratch``, with its signer, into ``cached``."""
    (scratch / "signer.key").write_text(signer.to_secret_string() + "\n")
    scratch.rename(cached)


def _log_sizes(store: object) -> list[tuple[int, int]]:
    from brightline.store import Store
    from brightline.store import history as tables

    assert isinstance(store, Store)
    with store.read() as session:
        return tables.log_sizes(session)


def run_store_audit(url: str | None, leaves: int) -> list[Result]:
    """``ledger verify`` as the CLI runs it (the tree checked beside the store audit) over a store
    whose history is ``leaves`` consistent changes (``store_history``); beside it, the
    tree check alone, and back to back the audit's walk (the reference: in one process
    and two) and its fast path, alone and in ``ledger verify``."""
    from brightline.service.ledger import verify_store
    from brightline.service.store_audit import audit_beside, audit_store
    from brightline.store import open_store
    from store_history import write_history

    results: list[Result] = []
    signer = generate_key(ORIGIN)
    cached = _cached_history(leaves) if url is None else None
    if cached is not None and (cached / "history.db").exists():
        signer = NoteSigner.parse((cached / "signer.key").read_text())
        url = f"sqlite:///{cached / 'history.db'}"
        written = None
    else:
        scratch = None if url is not None else _scratch(cached)
        url = url or f"sqlite:///{scratch / 'history.db'}"
        written = signer
    with open_store(url) as store:
        if written is None:
            size = sum(n for _, n in _log_sizes(store))
            results.append(Result(f"store history of {size:,} changes", f"cached in {cached}"))
        else:
            seconds, size = timed(lambda: write_history(store, leaves, written))
            results.append(Result(f"store history of {size:,} changes written", f"{seconds:.1f} s"))
        tree, tree_cpu = cpu_timed(lambda: verify_store(store, signer.verifier()))
        # The walk (the reference, which names a difference) and the fast path, back to
        # back: the audit alone, then ledger verify (the tree check beside it) with each.
        walk, walk_cpu = cpu_timed(lambda: audit_store(store, parallel=False, bulk=False))
        walk2, walk2_cpu = cpu_timed(lambda: audit_store(store, bulk=False))
        fast, fast_cpu = cpu_timed(lambda: audit_store(store))
        check = partial(verify_store, verifier=signer.verifier())
        before, before_cpu = cpu_timed(lambda: audit_beside(store, check, bulk=False))
        both, both_cpu = cpu_timed(lambda: audit_beside(store, check))  # as the CLI runs it
    if written is not None and scratch is not None and cached is not None:
        _keep(scratch, cached, signer)
    results.append(Result("  tree verification alone", f"{tree:.2f} s ({tree_cpu})"))
    results.append(
        Result("  store audit alone, the walk in one process", f"{walk:.2f} s ({walk_cpu})")
    )
    results.append(
        Result("  store audit alone, the walk in two processes", f"{walk2:.2f} s ({walk2_cpu})")
    )
    results.append(
        Result(
            "  store audit alone, the fast path",
            f"{fast:.2f} s ({fast_cpu}; {walk / fast:.2f}× the walk's speed in one process)",
        )
    )
    results.append(
        Result("  ledger verify with the walk (in two processes)", f"{before:.2f} s ({before_cpu})")
    )
    results.append(
        Result(
            f"verify with the store audit at {size:,} (ledger verify)",
            f"{both:.2f} s ({both / 10:.2f}× the floor; {both_cpu})",
            "≤ 10 s",
            both <= 10,
        )
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=4_096)
    parser.add_argument("--samples", type=int, default=1_000, help="proofs timed per kind")
    parser.add_argument(
        "--db", metavar="URL", help="database for the persistent log (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--audit-leaves",
        type=int,
        default=1_000_000,
        help="changes in the store whose audit is timed (0: skip)",
    )
    parser.add_argument(
        "--audit-db", metavar="URL", help="an empty database for it (default: a SQLite file)"
    )
    parser.add_argument(
        "--only-audit", action="store_true", help="time only verify with the store audit"
    )
    args = parser.parse_args(argv)
    if args.only_audit:
        only = run_store_audit(args.audit_db, args.audit_leaves)
        render(only, Console())
        return 0 if all(r.ok is not False for r in only) else 1
    console = Console()
    results = run(args.leaves, args.batch, args.samples, memory_backend())
    entries = make_entries(args.leaves)
    ref_seconds, _ = bench_reference(entries)
    ref_rate = args.leaves / ref_seconds
    results.append(Result("reference again, for the store run", f"{ref_rate:,.0f} leaves/s"))
    with tempfile.TemporaryDirectory(prefix="brightline-ledger-db-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        results += run_store(url, entries, args.batch, args.samples, ref_rate)
    if args.audit_leaves:
        results += run_store_audit(args.audit_db, args.audit_leaves)
    render(results, console)
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
