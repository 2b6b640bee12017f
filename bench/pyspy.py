"""Where the gateway's CPU goes: py-spy samples the running process; collapsed stacks summed up.

py-spy (`pip install py-spy`) attaches to the gateway by pid for the profile phase and samples
it 100 times a second without stopping it (`--nonblocking`). Mode `gil` (the default) samples
only the thread holding the GIL: where the interpreter's time goes, which is what bounds one
Python process. Mode `active` samples every running thread, so it also shows C code that has
released the GIL (SQLite, TLS, lxml) and threads waiting to get the GIL back, as time of the
Python function that called it. Samples are aggregated per function: *self* (the function was at
the top of the stack) and *total* (anywhere on the stack, counted once per sample).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_THREAD = re.compile(r"^thread \(\d+\): (.*)$")
_PROJECT = ("gateway/", "adapters/", "registry/")
_PLUMBING_AREAS = frozenset(
    {"asyncio", "threading", "concurrent", "runpy", "<frozen runpy>", "typer", "click", "<module>"}
)
_PLUMBING_FRAMES = ("<module> ", "serve (gateway/cli.py", "Server.", "asyncio_run ", "run (uvicorn")

#: The gateway's stages as (label, a piece of the frame that marks it); a sample counts for a
#: stage when any frame of its stack contains the piece. Names of today's code: a renamed
#: function shows 0 here, never a wrong figure elsewhere.
STAGES = (
    ("intake: request to answer on the event loop", "RequestResponseCycle.run_asgi ("),
    ("  SOAP envelope parse (parse_xml)", "parse_xml (gateway/"),
    ("  adapter translate", ".translate (adapters/"),
    ("  compose (methodology, canonical bundle)", "compose (gateway/compose.py"),
    ("  SOAP answer", "submit_answer (gateway/"),
    ("duplicate check (read, in a worker thread)", "Database.read_sync ("),
    ("seal the raw message (in a worker thread)", "Sealer.seal ("),
    (
        "store writer thread: commit groups (waits for the writer process)",
        "Database._commit_group (",
    ),
    ("store writer process: commit groups", "Writer.run ("),
    ("  intake unit (record state, outbox, audit)", "_commit (gateway/pipeline.py"),
    ("    Composed.finish (ids, render canonical bundles)", "Composed.finish ("),
    ("    profile validate", "validate (gateway/profile"),
    ("  audit.append (every unit)", "append (gateway/audit/chain.py"),
    ("  forwarder claim unit", "claim (gateway/forwarder.py"),
    ("  forwarder settle unit", "settle (gateway/forwarder.py"),
    ("forwarder: POST to the register", "Forwarder._claim_and_send.<locals>.send ("),
    ("HTTP server outside the app (uvicorn, httptools)", "HttpToolsProtocol."),
    ("TLS records of the server (asyncio sslproto)", "SSLProtocol."),
)
OTHER = "anything else (event loop, scheduling, thread hand-offs)"
#: Leaf frames of a thread that waits (`active` mode samples them anyway): left out, counted.
WAITS = (
    "_worker (concurrent/futures/thread.py",
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "EpollSelector.select (selectors.py",
)


def executable() -> str | None:
    """py-spy beside the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Recorder:
    """`py-spy record --pid` for `seconds`, into a collapsed-stack file."""

    def __init__(
        self,
        pid: int,
        seconds: float,
        out: Path,
        log: Path,
        *,
        mode: str = "gil",
        rate: int = 200,
        name: str = "gateway",
    ) -> None:
        self.pid, self.seconds, self.out, self.log, self.rate = pid, seconds, out, log, rate
        self.name = name
        self.mode = mode
        self.proc: subprocess.Popen[bytes] | None = None
        self.error = ""

    def start(self) -> bool:
        binary = executable()
        if binary is None:
            self.error = "py-spy is not installed (.venv/bin/pip install py-spy); no profile"
            return False
        seconds = str(max(1, round(self.seconds)))
        argv = [
            binary, "record", "--pid", str(self.pid), "--duration", seconds,
            "--rate", str(self.rate), "--format", "raw", "--function", "--threads",
            "--output", str(self.out),
        ]  # fmt: skip
        if self.mode == "gil":
            argv.append("--gil")
        # py-spy sometimes fails to read the interpreter version on the first attach: retry.
        code: int | None = None
        for _ in range(3):
            with self.log.open("ab") as log:
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            time.sleep(0.3)
            code = proc.poll()
            if code is None or code == 0:
                self.proc = proc
                return True
        self.error = f"py-spy could not attach (exit {code}); see {self.log}"
        return False

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            return False
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            self.error = "py-spy did not finish in time"
            return False
        if code != 0 or not self.out.exists():
            self.error = f"py-spy exited {code}; see {self.log}"
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Profile:
    samples: int
    #: samples of threads blocked in a wait (only `active` mode has them), left out
    waiting: int
    self_counts: Counter[str]
    total_counts: Counter[str]
    area_counts: Counter[str]
    thread_counts: Counter[str]
    stage_counts: Counter[str]


def area(frame: str) -> str:
    """What a frame belongs to: a project module, or a library's top-level package."""
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    if path.startswith(_PROJECT):
        return path
    top = path.split("/", 1)[0]
    return top.removesuffix(".py") or path


def load(path: Path) -> Profile:
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    area_counts: Counter[str] = Counter()
    thread_counts: Counter[str] = Counter()
    stage_counts: Counter[str] = Counter()
    samples = waiting = 0
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = _THREAD.match(frames[0])
        name = _thread_name(thread.group(1)) if thread else "?"
        frames = frames[1:] if thread else frames
        if not frames:
            continue
        if frames[-1].startswith(WAITS):
            waiting += count
            continue
        samples += count
        thread_counts[name] += count
        self_counts[frames[-1]] += count
        area_counts[area(frames[-1])] += count
        for frame in set(frames):
            if not _plumbing(frame):
                total_counts[frame] += count
        matched = False
        for label, piece in STAGES:
            if any(piece in frame for frame in frames):
                stage_counts[label] += count
                matched = matched or not label.startswith(" ")
        if not matched:
            stage_counts[OTHER] += count
    return Profile(
        samples, waiting, self_counts, total_counts, area_counts, thread_counts, stage_counts
    )


def _thread_name(name: str) -> str:
    """`asyncio_3` → `asyncio_*`: the default executor's threads counted together."""
    return re.sub(r"_\d+$", "_*", name.strip())


def _plumbing(frame: str) -> bool:
    """Frames on (nearly) every stack that say nothing: the CLI, the event loop, thread start."""
    return area(frame) in _PLUMBING_AREAS or frame.startswith(_PLUMBING_FRAMES)


def report(profile: Profile, *, seconds: float, rate: int, messages: int, top: int = 15) -> str:
    """Threads, the top functions by self and by total samples, and self samples per module or
    library; each as a share of the samples and as sampled milliseconds per accepted message."""
    if profile.samples == 0:
        return "no samples (was the gateway busy?)"
    per_message = 1000 / rate / messages if messages else 0.0

    def row(name: str, count: int) -> str:
        ms = f"{count * per_message:6.3f} ms/msg" if per_message else ""
        return f"  {100 * count / profile.samples:5.1f}%  {ms}  {name}"

    lines = [
        f"{profile.samples} samples in {seconds:g}s at {rate}/s "
        f"({profile.samples / (seconds * rate):.2f} of one thread's time)"
        + (f", {profile.waiting} more of threads waiting left out" if profile.waiting else "")
        + "; by thread:"
    ]
    lines += [row(n, c) for n, c in profile.thread_counts.most_common()]
    lines.append("by stage (a sample counts for every stage on its stack):")
    lines += [row(label, profile.stage_counts[label]) for label in [*(s for s, _ in STAGES), OTHER]]
    lines.append(f"top {top} by self time (the function itself, not its callees):")
    lines += [row(n, c) for n, c in profile.self_counts.most_common(top)]
    lines.append(f"top {top} by total time (the function and everything it calls):")
    lines += [row(n, c) for n, c in profile.total_counts.most_common(top)]
    lines.append("self time by module or library:")
    lines += [row(n, c) for n, c in profile.area_counts.most_common(top)]
    return "\n".join(lines)
