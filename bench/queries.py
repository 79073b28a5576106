"""Query figures: filtered listings and counts through the attribute index against the scan.

1. A ledger of N events (10⁴, 10⁵, 10⁶ on SQLite; 10⁴, 10⁵ on PostgreSQL) over N/10 assets is
   written straight into the tables (multi-row inserts of canonical entries, as appends write
   them; the Merkle log is left out: queries never read it), then indexed by the builder a
   migrated database uses (:func:`trustee.ledger.indexer.build_index`), whose rate is shown,
   with the time it then takes to merge the index's closed segments.
   Every asset has a unique ``serial`` and one of 50 ``site`` values; every event carries its
   asset's ``meter`` (10 events each, spread over the whole log), a unique ``seq``, and a
   unique 86-character ``signature`` (a term of 98 bytes, kept as it is in the index).
2. Timed one by one through :class:`~trustee.ledger.service.LedgerService`: the first page of
   events with ``event_attributes.meter=M`` and their count (X-Total-Count), the first page of
   assets with ``attributes.serial=S`` and the count of ``attributes.site=T``, each with a new
   random value; then the same through the scan (``use_index = False``), fewer times, where
   one query reads the whole log. p99 of the indexed queries, median of the scans.
3. Durable appends with the index against appends without it: the workload of
   :mod:`bench.ledger` (device-signed events from concurrent callers, group commit, SQLite
   ``synchronous=FULL``) on two databases in alternating rounds, one with the indexer thread
   running behind the appends, one with no index at all, in rounds of 25,600 events: long
   next to the indexer's tail allowance (5,000 events), so that most of its work falls inside
   the round it belongs to. The note gives the indexer's lag at each round's end, and the
   time and CPU it then took to cover it and merge what was due; counting that CPU as time,
   the rate over all rounds against the rounds without.

``python -m bench.queries [--quick]`` runs these figures alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.harness import Figure, report
from bench.ledger import Device, _grouped_rate, _open
from bench.replicas import new_database, postgres_server
from trustee.core import Core
from trustee.ledger.bulk import insert_rows
from trustee.ledger.canonical import canonical_json
from trustee.ledger.compaction import merged_segments, merges_due
from trustee.ledger.indexer import build_index
from trustee.ledger.records import rfc3339
from trustee.ledger.segments import live_segments
from trustee.ledger.service import LedgerService
from trustee.secret import Secret
from trustee.storage.schema_ledger import ledger_assets, ledger_events, ledger_index_state

GOAL_FIRST_PAGE_MS = 20.0
WHO = {"accessor": "bench", "display_name": "bench"}
EVENTS_PER_ASSET = 10
SITES = 50


def _fill(core: Core, events: int, chunk: int = 20_000) -> None:
    """Write ``events`` events over ``events // 10`` assets straight into the tables."""
    rng = random.Random(events)
    assets = [str(uuid.uuid4()) for _ in range(max(events // EVENTS_PER_ASSET, 1))]
    now = time.time()
    with core.db.begin() as conn:
        rows = [
            (
                asset,
                canonical_json({"serial": f"SN-{i}", "site": f"site-{i % SITES}"}).decode(),
                False,
                now,
                canonical_json(WHO).decode(),
            )
            for i, asset in enumerate(assets)
        ]
        columns = ("uuid", "attributes", "require_signature", "created_time", "principal")
        insert_rows(conn, ledger_assets, columns, rows)
    columns = tuple(column.name for column in ledger_events.columns)  # the order rows give
    for start in range(0, events, chunk):
        rows = []
        for n in range(start, min(start + chunk, events)):
            asset, event = assets[rng.randrange(len(assets))], str(uuid.uuid4())
            accepted = now + n / 1000
            record = {
                "asset_attributes": {},
                "asset_identity": f"assets/{asset}",
                "behaviour": "RecordEvidence",
                "event_attributes": {
                    "meter": f"meter-{asset}",
                    "seq": n,
                    "signature": rng.randbytes(64).hex()[:86],
                },
                "identity": f"assets/{asset}/events/{event}",
                "log_index": n,
                "operation": "Record",
                "principal_accepted": WHO,
                "principal_declared": None,
                "timestamp_accepted": rfc3339(accepted),
                "timestamp_declared": None,
            }
            entry = canonical_json(record)
            rows.append((event, asset, n, entry, accepted, "Record", "RecordEvidence"))
        with core.db.begin() as conn:
            insert_rows(conn, ledger_events, columns, rows)
    with core.db.begin() as conn:  # as migration 10 leaves a populated database
        conn.execute(
            sa.update(ledger_index_state).values(
                events_below=0, assets_after=None, assets_done=False
            )
        )


def _samples(query: Callable[[int], Any], count: int) -> list[float]:
    times = []
    for i in range(count):
        began = time.perf_counter()
        query(i)
        times.append(time.perf_counter() - began)
    return times


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def query_times(core: Core, events: int, samples: int, scans: int) -> dict[str, Any]:
    """Fill, index, and time the four queries indexed (p99 ms) and scanned (median ms)."""
    if core.ledger.indexer is not None:
        core.ledger.indexer.stop()  # the builder below indexes, as after a migration
    began = time.perf_counter()
    _fill(core, events)
    filled = time.perf_counter() - began
    began = time.perf_counter()
    indexed_at: list[float] = []

    def progress(below: int, end: int) -> None:
        if below >= end:
            indexed_at.append(time.perf_counter())

    assert build_index(core.db, progress=progress)  # indexes, then merges the segments
    built = indexed_at[0] - began
    merged = time.perf_counter() - indexed_at[0]
    service = core.ledger
    with core.db.connect() as conn:
        asset_ids = list(conn.execute(sa.select(ledger_assets.c.uuid)).scalars())
    rng = random.Random(7)

    def meter() -> str:
        return f"meter-{rng.choice(asset_ids)}"

    queries: dict[str, Callable[[int], Any]] = {
        "events first page": lambda i: service.list_events(attributes={"meter": meter()}),
        "events count": lambda i: service.count_events(attributes={"meter": meter()}),
        "assets first page": lambda i: service.find_assets(
            attributes={"serial": f"SN-{rng.randrange(len(asset_ids))}"}
        ),
        "assets count": lambda i: service.count_assets(
            attributes={"site": f"site-{rng.randrange(SITES)}"}
        ),
    }
    found = service.list_events(attributes={"meter": meter()})[0]
    assert found and all(event.event_attributes["meter"] for event in found)
    with core.db.connect() as conn:
        segments = len(live_segments(merged_segments(conn), events))
    result: dict[str, Any] = {
        "events": events,
        "filled_s": filled,
        "built_s": built,
        "merged_s": merged,
        "segments": segments,
    }
    for name, query in queries.items():
        times = _samples(query, samples)
        result[name] = _p99(times) * 1000
        result[name + " p50"] = statistics.median(times) * 1000
    service.queries.use_index = service.assets.use_index = False
    try:
        for name, query in queries.items():
            result[name + " scan"] = statistics.median(_samples(query, scans)) * 1000
    finally:
        service.queries.use_index = service.assets.use_index = True
    return result


def sqlite_query_times(events: int, samples: int, scans: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as folder:
        core = _open(Path(folder))
        try:
            return query_times(core, events, samples, scans) | {"engine": "SQLite"}
        finally:
            core.close()


def postgres_query_times(sizes: list[int], samples: int, scans: int) -> list[dict[str, Any]]:
    """The same on PostgreSQL, a new database of one server per size; none without it."""
    results = []
    with postgres_server() as server:
        if server is None:
            return []
        for events in sizes:
            core = Core.open(new_database(server))
            try:
                core.barrier.unseal(Secret(core.barrier.initialize(1, 1)[0]))
                results.append(query_times(core, events, samples, scans) | {"engine": "PostgreSQL"})
            finally:
                core.close()
    return results


def _merges_due(core: Core) -> bool:
    with core.db.connect() as conn:
        return merges_due(conn)


def append_ratio(clients: int, per_client: int, rounds: int) -> tuple[float, float, str]:
    """Median events/s with the index (the indexer running) and without, in alternating
    rounds on two databases; after each round with the index, the time the indexer took to
    cover it and merge what is due (so its work never falls into a round without)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-queries-on-") as on_folder,
        tempfile.TemporaryDirectory(prefix="bench-queries-off-") as off_folder,
    ):
        indexed = _open(Path(on_folder))
        plain = _open(Path(off_folder))
        plain.ledger.close()
        plain.ledger = LedgerService(plain.db, plain.barrier, attribute_index=False)
        assert indexed.ledger.index is not None
        state = indexed.ledger.index
        lags: list[int] = []
        catch_up: list[float] = []
        catch_up_cpu: list[float] = []
        try:
            device = Device()
            sides = {}
            for name, core in (("on", indexed), ("off", plain)):
                asset = core.ledger.create_asset({"name": "meter"}, device.device_key).uuid
                sides[name] = (core.ledger, asset, [])
            for n in range(rounds):
                order = ("on", "off") if n % 2 == 0 else ("off", "on")
                for name in order:
                    service, asset, rates = sides[name]
                    rates.append(
                        _grouped_rate(service, asset, device, clients, per_client, f"{name}{n}")
                    )
                    if name == "on":
                        below, end, _ = state.progress()
                        lags.append(end - below)
                        waited, worked = time.perf_counter(), time.process_time()
                        while (below < end or _merges_due(indexed)) and (
                            time.perf_counter() - waited < 120
                        ):
                            time.sleep(0.01)
                            below, end, _ = state.progress()
                        catch_up.append(time.perf_counter() - waited)
                        catch_up_cpu.append(time.process_time() - worked)
        finally:
            indexed.close()
            plain.close()
    on, off = sides["on"][2], sides["off"][2]
    events = clients * per_client
    # The indexer works alone after a round: its CPU time then is the time its work took
    # (the wall time also holds its polls, every 0.25 s once caught up).
    spent = sum(events / rate + cpu for rate, cpu in zip(on, catch_up_cpu, strict=True))
    sustained = events * rounds / spent
    without = events * rounds / sum(events / rate for rate in off)
    note = (
        f"median of {rounds} alternating rounds of {events:,} events, {clients} callers; with "
        f"{', '.join(f'{r:,.0f}' for r in on)}, without {', '.join(f'{r:,.0f}' for r in off)}; "
        f"indexer behind by {', '.join(f'{lag:,}' for lag in lags)} events at the rounds' ends, "
        f"covered them and merged what was due {', '.join(f'{w:.2f}' for w in catch_up)} s later, "
        f"with {', '.join(f'{c:.2f}' for c in catch_up_cpu)} s of CPU (counting that CPU, "
        f"all rounds appended, indexed and merged {sustained:,.0f} events/s, against "
        f"{without:,.0f} appended without: {sustained / without:.2f}×)"
    )
    return statistics.median(on), statistics.median(off), note


def run(quick: bool) -> list[Figure]:
    sizes = [2_000] if quick else [10_000, 100_000, 1_000_000]
    samples = 20 if quick else 1000
    results = [sqlite_query_times(n, samples, 3 if quick or n >= 10**6 else 7) for n in sizes]
    if not quick:
        results += postgres_query_times([10_000, 100_000], samples, 5)
    table = Table(title="filtered queries: index p50, p99 / scan median (ms), one at a time")
    columns = ("engine", "events", "events page", "events count", "assets page", "assets count")
    for column in columns:
        table.add_column(column, justify="left" if column == "engine" else "right")
    for each in results:
        cells = [
            f"{each[name + ' p50']:.2f}, {each[name]:.2f} / {each[name + ' scan']:,.1f}"
            for name in ("events first page", "events count", "assets first page", "assets count")
        ]
        table.add_row(each["engine"], f"{each['events']:,}", *cells)
    Console().print(table)
    for each in results:
        Console().print(
            f"{each['engine']} {each['events']:,} events: written in {each['filled_s']:.1f} s, "
            f"indexed in {each['built_s']:.1f} s "
            f"({each['events'] / each['built_s']:,.0f} events/s), segments merged in "
            f"{each['merged_s']:.1f} s, {each['segments']} segments to seek"
        )
    clients, per_client, rounds = (8, 40, 1) if quick else (64, 400, 11)
    on, off, note = append_ratio(clients, per_client, rounds)
    figures = []
    for each in results:
        smallest = next(r for r in results if r["engine"] == each["engine"])  # same engine
        page = each["events first page"]
        flat = page / max(smallest["events first page"], 1e-9)
        figures.append(
            Figure(
                f"events first page, {each['engine']}, {each['events']:,} events (p99)",
                1000 / page,
                None,
                1000 / GOAL_FIRST_PAGE_MS,
                unit="pages/s",
                note=f"p99 {page:.2f} ms (p50 {each['events first page p50']:.2f} ms), "
                f"{flat:.2f}× the {smallest['events']:,}-event p99; "
                f"scan {each['events first page scan']:,.1f} ms; count p99 "
                f"{each['events count']:.2f} ms (scan {each['events count scan']:,.1f} ms)",
            )
        )
    figures.append(
        Figure(
            "ledger durable appends with the attribute index",
            on,
            off,
            0.85,
            unit="events/s",
            note=note,
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queries")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    passed = report(figures, None)
    for figure in figures:
        Console().print(f"{figure.name}: {figure.note}")
    return 0 if passed or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
