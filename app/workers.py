"""Background work: a generator runs in a worker thread; each value it yields is a progress tick.

A tick is ``(fraction, message)`` or ``(fraction, message, payload)``: a payload is a partial
result the job hands to the GUI thread (``partial``), e.g. the layers loaded so far. It must be
an object the job no longer changes.

The newest request wins: every job carries a request id, and results of a job that is no longer
the newest are dropped. Cancel sets a flag the generator checks between steps.

The threads are Python's own (concurrent.futures), not QThreadPool's. pyproj keeps one PROJ
context per thread and frees it with the thread's Python state; Qt pool threads get a fresh
Python state for each job while the OS thread lives on, so the second reprojection in a reused
Qt thread met a freed context and crashed. Python threads keep their state for their lifetime,
and Qt's queued signals carry the results back to the GUI thread all the same.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from PySide6.QtCore import QObject, Signal

from skikt.layers.errors import SkiktError
from skikt.layers.workspace import Cancelled


def one_line(exc: BaseException) -> str:
    """What the user sees of an exception: a SkiktError's own line, else the type and message."""
    from .i18n import T, language

    if isinstance(exc, SkiktError):
        return exc.text(language())
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{T('internal_error')}: {type(exc).__name__}: {text}" if text else \
        f"{T('internal_error')}: {type(exc).__name__}"


class _Signals(QObject):
    progress = Signal(int, float, str)  # request id, fraction, message
    partial = Signal(int, object)  # request id, a partial result handed over
    finished = Signal(int, object)  # request id, result
    failed = Signal(int, str)  # request id, one-line message
    cancelled = Signal(int)


# Shared by short jobs (file previews, exports); the model has its own one-thread executor.
SHARED = ThreadPoolExecutor(max_workers=2, thread_name_prefix="skikt-worker")


class _Job:
    def __init__(self, rid: int, make: Callable[[Callable[[], bool]], Iterator], signals: _Signals):
        self.rid = rid
        self.make = make
        self.signals = signals
        self.cancel_requested = False

    def run(self):
        try:
            gen = self.make(lambda: self.cancel_requested)
            result = None
            while True:
                try:
                    value = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                if isinstance(value, tuple) and len(value) in (2, 3):
                    self.signals.progress.emit(self.rid, float(value[0]), str(value[1]))
                    if len(value) == 3:
                        self.signals.partial.emit(self.rid, value[2])
            self.signals.finished.emit(self.rid, result)
        except Cancelled:
            self.signals.cancelled.emit(self.rid)
        except SkiktError as exc:
            self.signals.failed.emit(self.rid, one_line(exc))
        except Exception as exc:  # a bug, not bad input: keep the app alive and say what happened
            traceback.print_exc()
            self.signals.failed.emit(self.rid, one_line(exc))


class Worker(QObject):
    """Runs one kind of job at a time; starting a new one cancels the old and ignores its result."""

    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent=None, executor: ThreadPoolExecutor | None = None):
        super().__init__(parent)
        self.executor = executor or SHARED
        self._signals = _Signals()
        self._signals.progress.connect(self._on_progress)
        self._signals.partial.connect(self._on_partial)
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._signals.cancelled.connect(self._on_cancelled)
        self._rid = 0
        self._job: _Job | None = None
        self._futures: list[Future] = []

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, make: Callable[[Callable[[], bool]], Iterator]) -> int:
        self.cancel()
        self._rid += 1
        self._job = _Job(self._rid, make, self._signals)
        self.busy_changed.emit(True)
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(self.executor.submit(self._job.run))
        return self._rid

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel_requested = True

    def abandon(self) -> None:
        """Cancel the current job and ignore whatever it still sends: its results belong to a
        state that no longer exists (a project was replaced)."""
        self.cancel()
        if self._job is not None:
            self._done()

    def wait(self, msecs: int = -1) -> bool:
        """Block until this worker's jobs have run (their signals are delivered later, by Qt)."""
        _, pending = wait_futures(self._futures, timeout=None if msecs < 0 else msecs / 1000)
        return not pending

    def _current(self, rid: int) -> bool:
        return self._job is not None and rid == self._rid

    def _done(self):
        self._job = None
        self.busy_changed.emit(False)

    def _on_progress(self, rid, frac, msg):
        if self._current(rid):
            self.progress.emit(frac, msg)

    def _on_partial(self, rid, payload):
        if self._current(rid):
            self.partial.emit(payload)

    def _on_finished(self, rid, result):
        if self._current(rid):
            self._done()
            self.finished.emit(result)

    def _on_failed(self, rid, msg):
        if self._current(rid):
            self._done()
            self.failed.emit(msg)

    def _on_cancelled(self, rid):
        if self._current(rid):
            self._done()
            self.cancelled.emit()
