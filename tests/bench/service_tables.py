"""The measurement tables of the service benchmarks: one row per result, closed loop and
open loop, in the unit of the workload (events written, checks answered)."""

from __future__ import annotations

from tests.bench.sections import Rows, Table, cores, ms
from tests.bench.service_load import Result


def _stored(r: Result) -> str:
    if r.stored is None:
        return "n/a"
    return "yes" if r.all_stored else f"NO ({r.stored:,} of {r.measurement.events:,})"


def _latencies(r: Result) -> list[str]:
    return [ms(r.measurement, 50), ms(r.measurement, 95), ms(r.measurement, 99)]


def closed_table(title: str, results: list[Result], unit: str, per_second: str) -> Table:
    """Closed-loop results; `unit` names what a request does (events, checks)."""
    rows: Rows = []
    for r in results:
        if r.offered is not None:
            continue
        m = r.measurement
        rows.append(
            [
                r.subject,
                r.workload,
                str(r.clients),
                f"{r.requests:,}",
                f"{m.events:,}",
                f"{r.rate:,.0f}",
                *_latencies(r),
                cores(r.service_cpu, m.seconds),
                cores(r.driver_cpu, m.seconds),
                f"{r.failed:,}",
                _stored(r),
            ]
        )
    header = ["service", "workload", "clients", "requests", unit, per_second]
    header += ["p50 ms", "p95 ms", "p99 ms", "service CPU", "load CPU", "errors", "stored"]
    return Table(title, header, rows)


def open_table(title: str, results: list[Result]) -> Table:
    rows: Rows = []
    for r in results:
        if r.offered is None:
            continue
        m = r.measurement
        rows.append(
            [
                r.subject,
                r.workload,
                f"{r.offered:,.0f}/s",
                f"{r.requests + r.unanswered:,}",
                f"{r.rate:,.0f}",
                *_latencies(r),
                cores(r.service_cpu, m.seconds),
                cores(r.driver_cpu, m.seconds),
                f"{r.unanswered:,}",
                f"{r.failed:,}",
                _stored(r),
            ]
        )
    header = ["service", "workload", "offered", "arrivals", "answered/s"]
    header += ["p50 ms", "p95 ms", "p99 ms", "service CPU", "load CPU", "unanswered", "errors"]
    return Table(title, [*header, "stored"], rows)
