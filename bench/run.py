"""`make bench`: police SOAP messages over mutual TLS through the gateway to the register, measured.

A fresh local stack under `var/bench/` (development PKI, register and gateway as real
processes, SQLite or `--postgres`), then sender processes (`senders.py`) drive `POST /soap/mvr`
with distinct valid messages on keep-alive connections: a warm-up, the measured window, and a
profile phase (py-spy on the gateway). Then it waits for the queue to drain and prints what was
sent, accepted and delivered, the latencies, memory and CPU of each process, and where the
gateway's CPU goes. Missing the target is reported, never an error; exit 1 means the bench itself
failed (a server did not start or died, a sender process failed).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import procfs
import pyspy
from senders import Sample, WorkerResult, WorkerSpec, worker_main

from gateway.devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE = 2000.0
#: A sender process, the parent's end of its pipe, and what it was asked to do.
Worker = tuple[BaseProcess, Connection, WorkerSpec]
TARGET_P99_MS = 25.0


class BenchFailure(Exception):
    """The bench could not measure (a server or a sender failed): exit status 1."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent, not measured")
    parser.add_argument("--senders", type=int, default=32, help="concurrent connections")
    parser.add_argument(
        "--processes", type=int, default=1, help="sender processes (senders split evenly)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="gateway processes on its one socket (`workers`)"
    )
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="HTTP client of the senders"
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, help="offered messages/s in all (0: closed loop)"
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=10.0,
        help="py-spy on the gateway after the measured window, under the same load (0: none)",
    )
    parser.add_argument(
        "--profile-mode",
        choices=("gil", "active"),
        default="gil",
        help="py-spy samples the GIL holder (gil) or every running thread (active)",
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the gateway on PostgreSQL, in a fresh schema (created and dropped here)",
    )
    parser.add_argument("--root", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args(argv)
    if args.senders < 1 or args.processes < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--senders and --processes must be ≥ 1, --duration > 0, --warmup ≥ 0")
    args.processes = min(args.processes, args.senders)
    return args


# -- the pieces --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    """The gateway's database URL in a schema of its own, and a way to find its backends."""

    url: str
    admin_url: str
    application: str

    def backend_pids(self) -> list[int]:
        """Server processes serving the gateway (found by application_name; their CPU is read
        from /proc, so only for a server on this machine)."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (self.application,),
            ).fetchall()
        return [int(row[0]) for row in rows]


@contextlib.contextmanager
def postgres_schema(url: str | None) -> Iterator[Postgres | None]:
    """A fresh schema for the gateway, dropped afterwards; None for SQLite."""
    if url is None:
        yield None
        return
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise BenchFailure(f"cannot connect to PostgreSQL at {url}: {exc}") from exc
    with admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            sep = "&" if "?" in url else "?"
            options = quote(f"-csearch_path={name}")
            yield Postgres(f"{url}{sep}options={options}&application_name={name}", url, name)
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


class RegisterCounter:
    """Counts what the register holds by reading its SQLite file read-only (cheap at any size,
    unlike the full list that `GET /api/v1/notifications` returns)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def between(self, since: str, until: str) -> int:
        """Received with `since` ≤ registered_at < `until` (ISO times in UTC)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM messages WHERE registered_at >= ? AND registered_at < ?",
            (since, until),
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._conn.close()


@dataclass
class Snapshot:
    """CPU seconds of each process and of the machine at one moment."""

    at: float
    wall: str
    cpu: dict[str, float]
    machine_busy: float
    machine_total: float
    delivered: int
    #: CPU seconds of the gateway processes' main threads (each one's event loop)
    gateway_loops: float
    #: CPU seconds of the gateway's store writer processes
    gateway_writers: float
    #: bytes written to storage, per server ("gateway", "register")
    written: dict[str, int]

    @classmethod
    def take(cls, pids: dict[str, list[int]], delivered: int) -> Snapshot:
        cpu = {
            name: sum(procfs.cpu_seconds(p) or 0.0 for p in group) for name, group in pids.items()
        }
        busy, total = procfs.machine_busy_seconds()
        writers = [p for p in pids["gateway"] if procfs.is_store_writer(p)]
        loops = sum(procfs.cpu_seconds(p, p) or 0.0 for p in pids["gateway"] if p not in writers)
        in_writers = sum(procfs.cpu_seconds(p) or 0.0 for p in writers)
        written = {
            name: sum(procfs.written_bytes(p) or 0 for p in pids[name])
            for name in ("gateway", "register")
        }
        return cls(
            time.monotonic(),
            datetime.now(UTC).isoformat(),
            cpu,
            busy,
            total,
            delivered,
            loops,
            in_writers,
            written,
        )


@dataclass
class Run:
    """Everything measured, for the report."""

    args: argparse.Namespace
    database: str
    postgres: Postgres | None = None
    start_at: float = 0.0
    window: tuple[Snapshot, Snapshot] | None = None
    profile_window: tuple[Snapshot, Snapshot] | None = None
    stop_at: float = 0.0
    results: list[WorkerResult] = field(default_factory=list)
    delivered_in_window: int = 0
    delivered_total: int = 0
    drain_seconds: float | None = None
    drain_left: int = 0
    last_delivery_at: float = 0.0
    peak_rss_kib: dict[str, int | None] = field(default_factory=dict)
    cpu_total: dict[str, float] = field(default_factory=dict)
    queue_status: str = ""
    profile_text: str = ""
    #: cores busy on the machine for a second before sending, servers idle: other users' load
    busy_before: float = 0.0


# -- the run -----------------------------------------------------------------------------------


def start_senders(args: argparse.Namespace, stack: Stack) -> list[Worker]:
    context = multiprocessing.get_context("spawn")
    crt, key = stack.institution_identity("mvr")
    per_sender = args.rate / args.senders if args.rate > 0 else 0.0
    workers: list[Worker] = []
    for index in range(args.processes):
        count = args.senders // args.processes + (index < args.senders % args.processes)
        spec = WorkerSpec(
            index=index,
            senders=count,
            host="127.0.0.1",
            port=stack.gateway_port,
            ca=stack.layout.gateway_ca.crt,
            cert=crt,
            key=key,
            client=args.client,
            sender_rate=per_sender,
        )
        parent, child = context.Pipe()
        process = context.Process(target=worker_main, args=(spec, child), name=f"sender-{index}")
        process.start()
        child.close()
        workers.append((process, parent, spec))
    return workers


def wait_ready(workers: list[Worker]) -> None:
    deadline = time.monotonic() + 60
    for process, pipe, _ in workers:
        while not pipe.poll(0.2):
            if not process.is_alive() or time.monotonic() > deadline:
                raise BenchFailure(f"sender process {process.name} did not get ready")
        try:
            message = pipe.recv()
        except (EOFError, OSError) as exc:
            raise BenchFailure(f"sender process {process.name} died before it was ready") from exc
        if message[0] != "ready":
            raise BenchFailure(f"sender process {process.name}: {message[1].error}")


def check_alive(stack: Stack) -> None:
    for process in (stack.gateway, stack.register):
        if process is not None and not process.running:
            raise BenchFailure(f"the {process.name} exited during the run; see {process.log}")


def progress(label: str, since: float, counter: RegisterCounter) -> None:
    print(f"  {label:<9} t={time.monotonic() - since:5.1f}s  delivered {counter.count():>7}")


def measure(args: argparse.Namespace, stack: Stack, run: Run) -> None:
    assert stack.gateway is not None and stack.gateway.proc is not None
    assert stack.register is not None and stack.register.proc is not None
    gateway_pid, register_pid = stack.gateway.proc.pid, stack.register.proc.pid
    counter = RegisterCounter(stack.register_db)
    busy, total = procfs.machine_busy_seconds()
    time.sleep(1)
    busy2, total2 = procfs.machine_busy_seconds()
    run.busy_before = (busy2 - busy) / max(1e-9, total2 - total) * procfs.cores()
    workers = start_senders(args, stack)
    recorders: list[pyspy.Recorder] = []
    try:
        wait_ready(workers)
        # With `--workers`, the gateway is a parent that forks its serving processes; each
        # serving process has its store writer process.
        gateway_pids = [gateway_pid, *procfs.descendants(gateway_pid)]
        pids = {
            "gateway": gateway_pids,
            "register": [register_pid],
            "senders": [p.pid for p, _, _ in workers if p.pid is not None],
            "bench": [os.getpid()],
        }
        run.start_at = time.monotonic() + 0.5
        window_start = run.start_at + args.warmup
        window_end = window_start + args.duration
        run.stop_at = window_end + max(0.0, args.profile_seconds)
        for _, pipe, _ in workers:
            pipe.send((run.start_at, run.stop_at))
        print(
            f"sending: {args.warmup:g}s warm-up, {args.duration:g}s measured"
            + (f", {args.profile_seconds:g}s profiled" if args.profile_seconds > 0 else "")
        )
        pause_until(window_start, stack, lambda: progress("warm-up", run.start_at, counter))
        if run.postgres is not None:
            pids["postgres"] = run.postgres.backend_pids()
        first = Snapshot.take(pids, counter.count())
        pause_until(window_end, stack, lambda: progress("measured", run.start_at, counter))
        second = Snapshot.take(pids, counter.count())
        run.window = (first, second)
        if args.profile_seconds > 0:
            # With workers: one of them (each does the same work), and its store writer.
            serving = [p for p in gateway_pids if not procfs.is_store_writer(p)][-1]
            profiled = {"gateway": serving}
            writer = [p for p in procfs.children(serving) if procfs.is_store_writer(p)]
            if writer:
                profiled["store writer process"] = writer[0]
            for name, pid in profiled.items():
                file = name.replace(" ", "-")
                recorder = pyspy.Recorder(
                    pid,
                    args.profile_seconds,
                    stack.root / f"{file}-profile.txt",
                    stack.root / f"{file}-py-spy.log",
                    mode=args.profile_mode,
                    name=name,
                )
                recorders.append(recorder)
                if not recorder.start():
                    print(f"  profile of the {name}: {recorder.error}")
            pause_until(run.stop_at, stack, lambda: progress("profiled", run.start_at, counter))
            run.profile_window = (second, Snapshot.take(pids, counter.count()))
        run.results = collect(workers)
        check_alive(stack)
        drain(args, stack, run, counter)
        run.delivered_in_window = counter.between(first.wall, second.wall)
        run.delivered_total = counter.count()
        run.peak_rss_kib = {
            "gateway": sum(procfs.status_kib(p, "VmHWM") or 0 for p in gateway_pids) or None,
            "register": procfs.status_kib(register_pid, "VmHWM"),
        }
        run.cpu_total = {
            "gateway": sum(procfs.cpu_seconds(p) or 0.0 for p in gateway_pids),
            "register": procfs.cpu_seconds(register_pid) or 0.0,
        }
        run.queue_status = queue_status(stack)
        run.profile_text = "\n".join(
            profile_text(r, run) if r.proc is not None else f"{r.name}: {r.error}"
            for r in recorders
        )
    finally:
        counter.close()
        for recorder in recorders:
            recorder.stop()
        for process, pipe, _ in workers:
            pipe.close()
            if process.is_alive():
                process.terminate()
            process.join(5)


def pause_until(moment: float, stack: Stack, tick: Callable[[], None]) -> None:
    """Sleep until `moment`, checking the servers and printing progress every 5 s."""
    next_tick = time.monotonic() + 5
    while (now := time.monotonic()) < moment:
        check_alive(stack)
        if now >= next_tick:
            tick()
            next_tick += 5
        time.sleep(min(0.2, max(0.0, moment - now)))


def collect(workers: list[Worker]) -> list[WorkerResult]:
    results = []
    for process, pipe, spec in workers:
        deadline = time.monotonic() + spec.timeout + 30
        while not pipe.poll(0.5):
            if not process.is_alive() or time.monotonic() > deadline:
                raise BenchFailure(f"sender process {process.name} sent no results")
        try:
            _, result = pipe.recv()
        except (EOFError, OSError) as exc:
            raise BenchFailure(f"sender process {process.name} died before its report") from exc
        if result.error:
            raise BenchFailure(f"sender process {process.name} failed: {result.error}")
        results.append(result)
    return results


def drain(args: argparse.Namespace, stack: Stack, run: Run, counter: RegisterCounter) -> None:
    """Wait until the register holds every notification the gateway accepted."""
    expected = sum(s[3] for r in run.results for s in r.samples)
    deadline = time.monotonic() + args.drain_timeout
    last, last_at = counter.count(), time.monotonic()
    next_tick = time.monotonic() + 5
    while True:
        now = time.monotonic()
        held = counter.count()
        if held != last:
            last, last_at = held, now
        if held >= expected:
            run.drain_seconds = max(0.0, last_at - run.stop_at)
            run.last_delivery_at = last_at
            return
        if now > deadline:
            run.drain_left = expected - held
            return
        if now >= next_tick:
            print(f"  draining  {held}/{expected} delivered")
            next_tick += 5
        check_alive(stack)
        time.sleep(0.05)


def queue_status(stack: Stack) -> str:
    argv = [sys.executable, "-m", "gateway", "queue", "status", "--config", str(stack.config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout or done.stderr).strip()


def profile_text(recorder: pyspy.Recorder, run: Run) -> str:
    if not recorder.wait(30):
        return recorder.error
    assert run.profile_window is not None
    first, second = run.profile_window
    in_writers = second.gateway_writers - first.gateway_writers
    if recorder.name == "gateway":
        cpu = second.cpu["gateway"] - first.cpu["gateway"] - in_writers
    else:
        cpu = in_writers
    accepted = sum(
        1
        for r in run.results
        for s in r.samples
        if s[2] == "accepted" and first.at <= s[0] + s[1] < second.at
    )
    seconds = second.at - first.at
    header = (
        f"-- the {recorder.name} --\n"
        f"mode {recorder.mode}; its CPU in the profile phase: {cpu:.1f} s "
        f"({cpu / seconds:.2f} cores) for {accepted} accepted messages"
        + (f" = {1000 * cpu / accepted:.2f} ms each" if accepted else "")
        + f"; {second.delivered - first.delivered} delivered meanwhile; py-spy pauses the "
        "gateway for each sample, so this phase runs slower than the measured window"
    )
    body = pyspy.report(
        pyspy.load(recorder.out), seconds=recorder.seconds, rate=recorder.rate, messages=accepted
    )
    return f"{header}\n{body}"


# -- the report ----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


def report(run: Run) -> str:
    args = run.args
    assert run.window is not None
    first, second = run.window
    samples: list[Sample] = [s for r in run.results for s in r.samples]
    kinds = Counter(s[2] for s in samples)
    sent = len(samples)
    accepted = kinds.get("accepted", 0)
    notifications = sum(s[3] for s in samples)
    window = second.at - first.at
    in_window = [s for s in samples if first.at <= s[0] + s[1] < second.at]
    accepted_window = sum(1 for s in in_window if s[2] == "accepted")
    latencies = sorted(1000 * s[1] for s in samples if first.at <= s[0] < second.at)
    accept_rate = accepted_window / window
    e2e_rate = run.delivered_in_window / window
    p = {q: percentile(latencies, q) for q in (0.5, 0.95, 0.99)}
    cores = procfs.cores()

    def cpu(name: str) -> float:
        return second.cpu[name] - first.cpu[name]

    def verdict(ok: bool) -> str:
        return "meets the target" if ok else "MISSES the target"

    connects = sum(r.connects for r in run.results)
    lines = [
        "",
        "== results ==",
        f"machine: {cores} cores; store: {run.database}; client: {args.client}, "
        f"gateway workers {args.workers}, "
        f"{args.senders} senders in {args.processes} process(es), "
        + (f"offered {args.rate:g}/s" if args.rate > 0 else "closed loop"),
        f"phases: warm-up {args.warmup:g}s, measured {window:.1f}s, "
        f"profiled {args.profile_seconds:g}s",
        f"machine busy before sending (servers idle): {run.busy_before:.2f} of {cores} cores"
        + (
            "  <- other processes are using the machine: figures are lower"
            if run.busy_before > 0.2
            else ""
        ),
        f"messages sent: {sent}; accepted: {accepted} ({notifications} notifications); "
        f"connections opened: {connects}",
        "errors by kind: "
        + (", ".join(f"{k}: {n}" for k, n in sorted(kinds.items()) if k != "accepted") or "none"),
        "",
        f"acceptance throughput (measured window): {accept_rate:8.1f} accepted/s",
        f"end-to-end throughput (measured window): {e2e_rate:8.1f} delivered/s   "
        f"target {TARGET_RATE:,.0f}/s: {verdict(e2e_rate >= TARGET_RATE)}",
        f"queue growth in the window: {accept_rate - e2e_rate:+.1f}/s (accepted minus delivered)",
        f"delivered to the register: {run.delivered_total} of {notifications}",
    ]
    if run.drain_seconds is not None:
        lines.append(f"queue drained {run.drain_seconds:.1f}s after sending stopped")
        span = run.last_delivery_at - run.start_at
        lines.append(
            f"whole run: {run.delivered_total} delivered in {span:.1f}s from the first send = "
            f"{run.delivered_total / span:.1f}/s"
        )
    else:
        lines.append(
            f"queue NOT drained {args.drain_timeout:g}s after sending stopped: "
            f"{run.drain_left} notification(s) still on the way"
        )
    lines += [
        f"gateway queue status: {run.queue_status}",
        "",
        f"acceptance latency, client side, {len(latencies)} requests started in the window (ms):",
        f"  p50 {p[0.5]:.1f}  p95 {p[0.95]:.1f}  p99 {p[0.99]:.1f}  "
        f"max {latencies[-1] if latencies else float('nan'):.1f}   "
        f"target p99 < {TARGET_P99_MS:g} ms: {verdict(p[0.99] < TARGET_P99_MS)}",
        "",
        "peak RSS (VmHWM): "
        + ", ".join(
            f"{name} {kib / 1024:.0f} MiB" if kib else f"{name} ?"
            for name, kib in run.peak_rss_kib.items()
        ),
        f"CPU in the measured window ({window:.1f}s; cores busy = CPU s / wall s):",
    ]
    labels = {
        "gateway": "gateway",
        "register": "register",
        "senders": f"load generator ({args.processes} sender process(es))",
        "bench": "bench main process (counting, polling)",
    }
    if "postgres" in second.cpu:
        labels["postgres"] = "PostgreSQL backends serving the gateway"
    for name, label in labels.items():
        lines.append(f"  {cpu(name):6.1f} s = {cpu(name) / window:4.2f} cores  {label}")
    busy = second.machine_busy - first.machine_busy
    other = max(0.0, busy - sum(cpu(name) for name in labels))
    lines.append(
        f"  {other:6.1f} s = {other / window:4.2f} cores  everything else on the machine "
        "(kernel work, database server background, other users' processes)"
    )
    lines.append(f"  {busy:6.1f} s = {busy / window:4.2f} of {cores} cores busy in all")
    if accepted_window:
        per = 1000 / accepted_window
        lines.append(
            f"CPU per accepted message: gateway {cpu('gateway') * per:.2f} ms (forwarding "
            f"included), register {cpu('register') * per:.2f} ms, load generator "
            f"{(cpu('senders') + cpu('bench')) * per:.2f} ms"
        )
        loops = second.gateway_loops - first.gateway_loops
        writers = second.gateway_writers - first.gateway_writers
        lines.append(
            f"  the gateway's: event loop {loops * per:.2f} ms, store writer process "
            f"{writers * per:.2f} ms, other threads {(cpu('gateway') - loops - writers) * per:.2f}"
            " ms"
        )
        written = {k: second.written[k] - first.written[k] for k in second.written}
        lines.append(
            "storage written per accepted message: "
            + ", ".join(f"{k} {v / accepted_window / 1024:.1f} KiB" for k, v in written.items())
        )
    lines.append(
        "CPU over the whole run (start-up included): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in run.cpu_total.items())
    )
    if run.profile_text:
        lines += ["", "== where the gateway's CPU goes (py-spy) ==", run.profile_text]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    shutil.rmtree(args.root, ignore_errors=True)
    try:
        with postgres_schema(args.postgres) as postgres:
            print(f"stack under {args.root}")
            stack = Stack.create(args.root, database=postgres.url if postgres else None)
            try:
                stack.start_register()
                stack.start_gateway({"GATEWAY_WORKERS": str(args.workers)})
                store = "PostgreSQL" if postgres else "SQLite (WAL, synchronous=FULL)"
                run = Run(args, store, postgres)
                measure(args, stack, run)
            finally:
                stack.stop()
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    except (BenchFailure, RuntimeError, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(report(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
