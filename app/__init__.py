"""Skikt's Qt shell. Everything that touches data lives in ``layers``; this package only binds it to widgets."""
