"""Skikt's pure core: I/O, sectors, indicators, composites, projects and drawing.

Nothing in this package may import Qt or the ``app`` package; tests/test_architecture.py
proves it by importing every module with PySide6 blocked.
"""

__version__ = "0.1.0"
