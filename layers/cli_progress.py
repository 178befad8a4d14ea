"""The command line's progress bar and Ctrl-C for long runs (``skikt score --engine dask``).

* :class:`ProgressLine`: one line on stderr, redrawn in place (``\\r``): a bar, the percentage,
  what is being done ("raw indicators, tile 12/41"), the time elapsed and an estimate of the time
  left. Only when stderr is a terminal and ``--quiet`` is not given: a log file or a pipe gets
  nothing but the final lines.
* :func:`cancel_on_ctrl_c`: while a run is going, the first Ctrl-C (SIGINT) only sets a flag that
  the engine polls between steps, so it stops at the next step, closes its cluster and removes
  its temporary output itself; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager

BAR_WIDTH = 24
REDRAW_EVERY = 0.2  # seconds: a tile finishing every millisecond must not flood the terminal
ETA_AFTER = 0.02  # below this fraction done, an estimate of the time left is noise


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine:
    """A progress callback ``(fraction 0–1, message)`` that draws one line on ``stream``."""

    def __init__(self, stream=None, enabled: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.start = time.monotonic()
        self.last_draw = -1.0
        self.last_phase = None
        self.drawn = False

    def text(self, fraction: float, message: str, now: float) -> str:
        fraction = min(max(float(fraction), 0.0), 1.0)
        filled = int(round(fraction * BAR_WIDTH))
        elapsed = now - self.start
        eta = f"ETA {_clock(elapsed * (1 - fraction) / fraction)}" if fraction >= ETA_AFTER else "ETA –"
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} {message} · {_clock(elapsed)} · {eta}"

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        phase = message.rstrip("0123456789/ ")  # "raw indicators, tile 3/41" → "raw indicators, tile"
        count = message[len(phase):].strip().split("/")
        step_done = len(count) == 2 and count[0] == count[1]  # "41/41": the step's last tile
        if fraction < 1 and phase == self.last_phase and not step_done and now - self.last_draw < REDRAW_EVERY:
            return  # a new step and its last tile are always shown; between, at most every REDRAW_EVERY s
        self.last_draw, self.last_phase = now, phase
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line = self.text(fraction, message, now)[:width]
        try:
            self.stream.write("\r" + line.ljust(width))
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False  # the terminal went away: carry on without a bar
            return
        self.drawn = True

    def close(self) -> None:
        """End the bar's line, so that what is printed next starts on a line of its own."""
        if self.drawn:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.drawn = False


@contextmanager
def cancel_on_ctrl_c():
    """Yields an Event set by the first Ctrl-C; a second Ctrl-C raises KeyboardInterrupt. The
    previous handler is restored afterwards. Outside the main thread (tests, embedding) nothing
    is installed and the event is never set by a signal."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return

    def on_sigint(signum, frame):
        if pressed.is_set():
            raise KeyboardInterrupt
        pressed.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
