"""The ``skikt`` console script: headless subcommands go to ``layers.cli``; the rest opens the window.

Qt is imported only when a window is wanted, so ``skikt inspect`` works on a machine without it.
"""

from __future__ import annotations

import sys

HEADLESS = {"inspect", "score", "compare", "compose", "export", "memo", "pack", "unpack", "bench"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HEADLESS or argv[:1] in (["-h"], ["--help"]):
        from skikt.layers.cli import main as core_main

        return core_main(argv)
    if argv[:1] == ["present"]:
        from .main import import_core_before_qt

        import_core_before_qt()  # as the app does: the core's modules before PySide6's import hook
        from .presentation import run_present

        return run_present(argv[1:])
    from .main import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
