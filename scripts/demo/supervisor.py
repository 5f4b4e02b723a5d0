"""Running things: the processes the demo starts (stopped in reverse order, also when the demo is killed), commands,
ports, the demo's log and its timings."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .settings import ROOT


class DemoError(Exception):
    """A stage that could not run; the message says which and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float, what: str, proc: subprocess.Popen | None = None, log_file: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DemoError(f"{what} exited with {proc.returncode}{tail(log_file)}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f} s{tail(log_file)}")


def tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {path}:\n  " + "\n  ".join(text)


def run(argv: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        raise DemoError(f"{what} failed ({out.returncode}):\n{(out.stdout + out.stderr)[-3000:]}")
    return out


@contextmanager
def timed(timings: dict[str, float], name: str):
    """Records how long the block took in `timings[name]`, in seconds, also when it raises."""
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = round(time.monotonic() - started, 2)


class Processes:
    """Everything the demo starts, stopped in reverse order by `stop_all` -- and by a watchdog shell if this process
    dies without running it (SIGKILL)."""

    def __init__(self, base: Path):
        self.base = base
        self.stops: list[tuple[str, list[str]]] = []  # (what, shell commands)
        self.cleanup_script = base / "cleanup.sh"
        self._write_script()
        # The watchdog reads a pipe only this process writes to: end of file means this process is gone, however it
        # ended (a PID check would be fooled by a zombie that nobody reaps).
        self.watchdog = subprocess.Popen(
            ["sh", "-c", f'read _ignored; sh "{self.cleanup_script}"'],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def _write_script(self) -> None:
        lines = ["#!/bin/sh"]
        for _, commands in reversed(self.stops):
            lines.extend(commands)
        lines.append(f'rm -rf "{self.base}"')
        self.cleanup_script.write_text("\n".join(lines) + "\n")

    def start(self, what: str, argv: list[str], log_file: Path | None, env: dict | None = None, cwd: Path = ROOT):
        """Starts `argv` in its own session, its output to `log_file` (discarded when None)."""
        out = open(log_file, "wb") if log_file is not None else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
        if log_file is not None:
            out.close()
        # The process runs in its own group: the group is what gets stopped (cargo lambda watch's functions too).
        self.register(what, [f"kill -TERM -{proc.pid} 2>/dev/null", "sleep 1", f"kill -KILL -{proc.pid} 2>/dev/null"])
        return proc

    def register(self, what: str, commands: list[str]) -> None:
        self.stops.append((what, commands))
        self._write_script()

    def stop_all(self) -> None:
        for what, commands in reversed(self.stops):
            subprocess.run(["sh", "-c", "\n".join(commands)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log(f"stopped {what}")
        self.stops.clear()
        self.watchdog.kill()
        shutil.rmtree(self.base, ignore_errors=True)
