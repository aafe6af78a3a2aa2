"""Synthetic hourly metering, vectorized: streams of usage with diurnal and weekly shapes,
noise, and the planted patterns and decoys of the cast.

A *stream* is one (subscription, service, operation, region, unit) with a daily level;
each produces one row per hour. Rows are generated a chunk of streams at a time and
written straight to Parquet, so memory stays bounded whatever the size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from brightline import files
from brightline.synth.world import REGIONS, Cast, Customer
from brightline.telemetry import METERING_SCHEMA

#: (service, operation, unit, is a stock such as storage held, median level per day, sigma)
KINDS: Final = (
    ("storage.blob", "write", "GB-month", True, 66.0, 1.5),
    ("storage.files", "write", "GB-month", True, 30.0, 1.2),
    ("compute.vm", "start", "vm-hour", False, 50.0, 1.0),
    ("db.sql", "query", "requests", False, 1e5, 1.2),
    ("ai.speech", "transcribe", "audio-minute", False, 300.0, 1.2),
    ("ai.translator", "translate", "characters", False, 2e5, 1.2),
    ("ai.vision", "analyze", "images", False, 5e3, 1.0),
    ("net.egress", "transfer", "GB", False, 100.0, 1.0),
    # Only in the story world's catalog (``brightline.synth.story``); never drawn at random.
    ("ingest.streams", "publish", "GB", False, 1000.0, 1.0),
)
_BLOB, _FILES, _VM, _SQL, _SPEECH, _TRANSLATE, _VISION, _EGRESS, _INGEST = range(len(KINDS))
_EXTRA_P: Final = (0.0, 0.08, 0.25, 0.22, 0.12, 0.08, 0.1, 0.15, 0.0)
_REGION_IDS: Final = tuple(sorted(set(REGIONS.values())))
PB_DAY: Final = 1e6 * 24 / 730  # GB-month per day of one petabyte held
_CHUNK_ROWS: Final = 4_000_000

AddStreams = Callable[..., None]


def _take(hours: int, values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]`` with each item repeated for every hour of its stream."""
    return pc.take(values, pa.array(np.repeat(index, hours)))


@dataclass(slots=True)
class Streams:
    sub: np.ndarray  # index into the subscriptions
    kind: np.ndarray  # index into KINDS
    region: np.ndarray  # index into _REGION_IDS
    level: np.ndarray  # quantity per day
    multiplier: np.ndarray  # [stream, day] factor on the level


def plan_streams(
    cast: Cast, *, days: int, rows: int | None, rng: np.random.Generator
) -> tuple[Streams, list[dict[str, object]]]:
    """The background streams (to about ``rows`` rows) and the cast's, and the truth."""
    subs = cast.subscriptions
    index = {s: i for i, s in enumerate(subs)}
    home = np.array(
        [_REGION_IDS.index(REGIONS[c.country]) for c in cast.customers for _ in c.subscriptions]
    )
    sub_list: list[np.ndarray] = []
    kind_list: list[np.ndarray] = []
    region_list: list[np.ndarray] = []
    level_list: list[np.ndarray] = []
    mult_list: list[np.ndarray] = []

    def add(
        sub: np.ndarray,
        kind: np.ndarray,
        region: np.ndarray,
        level: np.ndarray,
        mult: np.ndarray | None = None,
    ) -> None:
        sub_list.append(sub)
        kind_list.append(kind)
        region_list.append(region)
        level_list.append(level)
        mult_list.append(np.ones((len(sub), days)) if mult is None else mult)

    background = np.array(
        [index[s] for c in cast.customers if not c.role for s in c.subscriptions], dtype=np.int64
    )
    total = len(subs) * 3 if rows is None else max(1, rows // (24 * days))
    n_storage = min(len(background), total)
    base_subs = background[:n_storage]
    extra = max(0, total - n_storage)
    extra_subs = rng.choice(background, size=extra) if extra and len(background) else background[:0]
    all_subs = np.concatenate([base_subs, extra_subs])
    kinds = np.concatenate(
        [np.full(n_storage, _BLOB), rng.choice(len(KINDS), size=len(extra_subs), p=_EXTRA_P)]
    )
    medians = np.array([k[4] for k in KINDS])
    sigmas = np.array([k[5] for k in KINDS])
    levels = medians[kinds] * rng.lognormal(0.0, sigmas[kinds])
    regions = home[all_subs].copy()
    abroad = rng.random(len(all_subs)) < 0.1
    regions[abroad] = rng.integers(0, len(_REGION_IDS), size=int(abroad.sum()))
    # Stocks grow slowly; usage wanders a little from day to day.
    stock = np.array([k[3] for k in KINDS])[kinds]
    growth = np.exp(np.outer(rng.normal(0.001, 0.002, len(all_subs)), np.arange(days)))
    wander = rng.lognormal(0.0, 0.15, (len(all_subs), days))
    add(all_subs, kinds, regions, levels, np.where(stock[:, None], growth, wander))

    truth: list[dict[str, object]] = []
    onset = max(15, int(days * 0.6))
    for customer in cast.customers:
        if not customer.role:
            continue
        what, kind = customer.role.split(":")
        ids = np.array([index[s] for s in customer.subscriptions])
        _plant(add, kind, customer, ids, days=days, onset=onset, rng=rng)
        truth.append(
            {
                "customer": customer.id,
                "role": what,
                "kind": kind,
                "sector": customer.sector,
                "country": customer.country,
                "onset_day": onset if "surge" in kind else None,
            }
        )
    streams = Streams(
        sub=np.concatenate(sub_list),
        kind=np.concatenate(kind_list),
        region=np.concatenate(region_list),
        level=np.concatenate(level_list),
        multiplier=np.concatenate(mult_list),
    )
    return streams, truth


def _plant(
    add: AddStreams,
    kind: str,
    customer: Customer,
    ids: np.ndarray,
    *,
    days: int,
    onset: int,
    rng: np.random.Generator,
) -> None:
    home = _REGION_IDS.index(REGIONS[customer.country])
    abroad = _REGION_IDS.index("eastus")
    d = np.arange(days)

    def streams(
        k: int, subs: np.ndarray, per_day: float, region: int, mult: np.ndarray | None = None
    ) -> None:
        n = len(subs)
        factor = None if mult is None else np.tile(mult, (n, 1))
        add(subs, np.full(n, k), np.full(n, region), np.full(n, per_day / n), factor)

    # Every cast customer has some ordinary compute and storage.
    streams(_VM, ids, 400.0, home)
    streams(_BLOB, ids[:2], 200.0, home)
    step = np.where(d >= onset, 15.0, 1.0)
    weekly_growth = 1.6 ** (d / 7.0)
    if kind == "speech-surge":
        streams(_SPEECH, ids[:3], 20_000.0, home, step)
        streams(_TRANSLATE, ids[3:5], 1e6, home, np.where(d >= onset, 120.0, 1.0))
    elif kind == "archive-abroad":
        streams(_BLOB, ids[:4], PB_DAY, abroad, weekly_growth)
        streams(_SPEECH, ids[4:6], 400_000.0, home)
    elif kind == "call-centre":
        streams(_SPEECH, ids, 500_000.0, home)
    elif kind == "broadcaster":
        streams(_SPEECH, ids[:3], 120_000.0, home)
        streams(_TRANSLATE, ids[3:], 30e6, home)
    elif kind == "weather-agency":
        streams(_BLOB, ids[:4], PB_DAY, home, weekly_growth)
    elif kind == "small-spike":
        streams(_SPEECH, ids[:2], 500.0, home, np.where(d == onset, 8.0, 1.0))
    elif kind == "intelligence-unit":
        _plant_intelligence_unit(streams, customer, ids, step=d >= onset, growth=weekly_growth)
    del rng


def _plant_intelligence_unit(
    streams: Callable[..., None],
    customer: Customer,
    ids: np.ndarray,
    *,
    step: np.ndarray,
    growth: np.ndarray,
) -> None:
    """The story's intelligence unit (``brightline.synth.story``): from the onset it
    ingests telecom-scale audio, transcribes and translates it, and archives petabytes,
    all in two regions abroad; its rescue subscription keeps a small ordinary footprint."""
    sub = {name: ids[i : i + 1] for i, name in enumerate(customer.subscriptions)}
    abroad = [_REGION_IDS.index(r) for r in ("westeurope", "northeurope")]
    surge = np.where(step, 30.0, 1.0)
    for region, share in zip(abroad, (0.6, 0.4), strict=True):
        streams(_INGEST, sub["sub-9900-ingest"], 20_000.0 * share, region, surge)
        streams(_BLOB, sub["sub-9900-archive"], 2.5 * PB_DAY * share, region, growth)
        streams(_SPEECH, sub["sub-9900-transcribe"], 60_000.0 * share, region, surge)
        streams(_TRANSLATE, sub["sub-9900-translate"], 3e6 * share, region, surge)
    streams(_BLOB, sub["sub-9900-rescue"], 40.0, abroad[0])
    streams(_VM, sub["sub-9900-rescue"], 30.0, abroad[0])


def _shapes() -> tuple[np.ndarray, np.ndarray]:
    hours = np.arange(24)
    diurnal = 1.0 + 0.7 * np.sin(2 * np.pi * (hours - 8) / 24)
    weekly = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.55, 0.45])
    return diurnal / diurnal.mean(), weekly / weekly.mean()


def write_usage(
    path: Path,
    streams: Streams,
    subscriptions: list[str],
    *,
    start: datetime,
    days: int,
    rng: np.random.Generator,
) -> int:
    """Write one row per stream and hour to a Parquet file; returns the row count."""
    hours = 24 * days
    per_chunk = max(1, _CHUNK_ROWS // hours)
    start_us = int(start.timestamp()) * 1_000_000
    diurnal, weekly = _shapes()
    first_dow = start.weekday()
    hour = np.arange(hours)
    day = hour // 24
    shape_usage = diurnal[hour % 24] * weekly[(first_dow + day) % 7]
    sub_dict = pa.array(subscriptions, pa.string())
    service = pa.array([k[0] for k in KINDS], pa.string())
    operation = pa.array([k[1] for k in KINDS], pa.string())
    unit = pa.array([k[2] for k in KINDS], pa.string())
    region = pa.array(list(_REGION_IDS), pa.string())
    is_stock = np.array([k[3] for k in KINDS])
    written = 0
    with (
        files.writing(path) as out,
        pq.ParquetWriter(out, METERING_SCHEMA, compression="zstd") as writer,
    ):
        for first in range(0, len(streams.sub), per_chunk):
            chunk = slice(first, first + per_chunk)
            n = len(streams.sub[chunk])
            kind = streams.kind[chunk]
            stock = is_stock[kind]
            shape = np.where(stock[:, None], 1.0, shape_usage[None, :])
            sigma = np.where(stock, 0.01, 0.25)[:, None]
            noise = rng.lognormal(0.0, 1.0, (n, hours)) ** sigma
            quantity = (
                (streams.level[chunk] / 24.0)[:, None]
                * streams.multiplier[chunk][:, day]
                * shape
                * noise
            ).ravel()
            ts = (start_us + np.tile(hour, n).astype(np.int64) * 3_600_000_000).astype(np.int64)
            table = pa.table(
                [
                    pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                    _take(hours, sub_dict, streams.sub[chunk]),
                    _take(hours, service, kind),
                    _take(hours, operation, kind),
                    _take(hours, region, streams.region[chunk]),
                    pa.array(quantity, pa.float64()),
                    _take(hours, unit, kind),
                ],
                schema=METERING_SCHEMA,
            )
            writer.write_table(table, row_group_size=1 << 20)
            written += table.num_rows
    return written
