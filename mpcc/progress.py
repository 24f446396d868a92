"""Progress of the long steps on stderr: batches, jobs, downloads, waiting for a job.

Progress is shown only when stderr is a terminal or ``--progress`` is given,
and always on stderr, so that stdout (and ``--json`` output) is unaffected.
On a terminal it is a live ``rich`` display; elsewhere (``--progress`` into a
file or a pipe) one plain line per change of phase, which reads well in logs.

A task is named (``"job 3"``, ``"batch 9f2c..."``) and moves through phases;
``update`` sets its phase and how far it is (``done`` of ``total`` steps),
``finish`` removes it with its last phase.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class Reporter(Protocol):
    """Where long steps report how far they are."""

    enabled: bool

    def update(self, task: str, phase: str, done: float, total: float) -> None: ...

    def finish(self, task: str, phase: str) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """Reports nothing (stderr is not a terminal and ``--progress`` was not given)."""

    enabled = False

    def update(self, task: str, phase: str, done: float, total: float) -> None:
        pass

    def finish(self, task: str, phase: str) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress:
    """One line on stderr per change of a task's phase or step (for files and pipes)."""

    enabled = True

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream or sys.stderr
        self._last: dict[str, tuple[str, float]] = {}
        self._started: dict[str, float] = {}

    def update(self, task: str, phase: str, done: float, total: float) -> None:
        self._started.setdefault(task, time.monotonic())
        if self._last.get(task) != (phase, done):
            self._last[task] = (phase, done)
            self._write(f"{task}: {phase} [{_steps(done)}/{_steps(total)}]")

    def finish(self, task: str, phase: str) -> None:
        started = self._started.pop(task, time.monotonic())
        self._last.pop(task, None)
        self._write(f"{task}: {phase} ({time.monotonic() - started:.1f} s)")

    def close(self) -> None:
        self._stream.flush()

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


class LiveProgress:
    """A live ``rich`` display on a terminal's stderr: a spinner, bar and phase per task."""

    enabled = True

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.fields[task]}"), BarColumn(bar_width=24),
                                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                                  transient=True, redirect_stdout=False, redirect_stderr=False)
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def update(self, task: str, phase: str, done: float, total: float) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(phase, total=total, task=task)
        self._progress.update(self._tasks[task], description=phase, completed=done, total=total)

    def finish(self, task: str, phase: str) -> None:
        if task in self._tasks:
            self._progress.remove_task(self._tasks.pop(task))

    def close(self) -> None:
        self._progress.stop()


def reporter(requested: bool | None, as_json: bool = False) -> Reporter:
    """The reporter for ``--progress/--no-progress`` (None: on if stderr is a terminal and not --json)."""
    terminal = sys.stderr.isatty()
    wanted = requested if requested is not None else terminal and not as_json
    if not wanted:
        return NoProgress()
    if terminal:
        return LiveProgress(Console(stderr=True))
    return LineProgress()


def log_through(progress: Reporter, verbose: bool = False) -> None:
    """Sends log records through the live display (so they print above it instead of through it)."""
    if isinstance(progress, LiveProgress):
        handler = RichHandler(console=progress.console, show_path=False, markup=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _steps(value: float) -> str:
    return f"{value:g}"
