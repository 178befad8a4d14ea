"""Background work: a generator runs in the thread pool; each value it yields is a progress tick.

The newest request wins: every job carries a request id, and results of a job that is no longer
the newest are dropped. Cancel sets a flag the generator checks between steps.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from layers.errors import SkiktError
from layers.workspace import Cancelled


class _Signals(QObject):
    progress = Signal(int, float, str)  # request id, fraction, message
    finished = Signal(int, object)  # request id, result
    failed = Signal(int, str)  # request id, one-line message
    cancelled = Signal(int)


class _Job(QRunnable):
    def __init__(self, rid: int, make: Callable[[Callable[[], bool]], Iterator], signals: _Signals):
        super().__init__()
        self.rid = rid
        self.make = make
        self.signals = signals
        self.cancel_requested = False
        self.setAutoDelete(True)

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
                if isinstance(value, tuple) and len(value) == 2:
                    self.signals.progress.emit(self.rid, float(value[0]), str(value[1]))
            self.signals.finished.emit(self.rid, result)
        except Cancelled:
            self.signals.cancelled.emit(self.rid)
        except SkiktError as exc:
            from .i18n import language

            self.signals.failed.emit(self.rid, exc.text(language()))
        except Exception as exc:  # a bug, not bad input: keep the app alive and say what happened
            traceback.print_exc()
            self.signals.failed.emit(self.rid, f"{type(exc).__name__}: {exc}")


class Worker(QObject):
    """Runs one kind of job at a time; starting a new one cancels the old and ignores its result."""

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent=None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._signals = _Signals()
        self._signals.progress.connect(self._on_progress)
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._signals.cancelled.connect(self._on_cancelled)
        self._rid = 0
        self._job: _Job | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, make: Callable[[Callable[[], bool]], Iterator]) -> int:
        self.cancel()
        self._rid += 1
        self._job = _Job(self._rid, make, self._signals)
        self.busy_changed.emit(True)
        self.pool.start(self._job)
        return self._rid

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel_requested = True

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)

    def _current(self, rid: int) -> bool:
        return self._job is not None and rid == self._rid

    def _done(self):
        self._job = None
        self.busy_changed.emit(False)

    def _on_progress(self, rid, frac, msg):
        if self._current(rid):
            self.progress.emit(frac, msg)

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
