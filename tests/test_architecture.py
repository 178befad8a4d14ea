"""The core never imports Qt or the app: proven by importing every module with them blocked."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(p for p in (ROOT / "layers").glob("*.py"))
FORBIDDEN = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "app", "skikt.app")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_core_sources_do_not_import_qt_or_app():
    offenders = []
    for path in CORE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if _forbidden(n)]
    assert offenders == []


def test_every_core_module_imports_with_qt_blocked():
    modules = [f"skikt.layers.{p.stem}" for p in CORE if p.stem not in ("__main__",)]
    code = f"""
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + '.') for f in {FORBIDDEN!r}):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for m in {modules!r}:
    importlib.import_module(m)
loaded = [m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})]
assert not loaded, loaded
print('ok', len({modules!r}))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok")


def test_every_translation_key_has_both_languages_and_is_used():
    import re

    from skikt.layers.i18n import _TEXT

    for key, (sv, en) in _TEXT.items():
        assert sv and en, key
        assert set(re.findall(r"{(\w+)", sv)) == set(re.findall(r"{(\w+)", en)), key
    sources = "".join(p.read_text(encoding="utf-8") for d in ("app", "layers") for p in (ROOT / d).rglob("*.py")
                      if p.name != "i18n.py")
    # A key is used when it appears as a string literal, or as the prefix of an f-string key
    # such as T(f"norm_{key}").
    literals = set(re.findall(r"""["']([a-z0-9_]+)["']""", sources))
    prefixes = set(re.findall(r"""\bT\(f["']([a-z_]+)\{""", sources))
    unused = [k for k in _TEXT if k not in literals and not any(k.startswith(p) for p in prefixes)]
    assert unused == []


def test_installed_under_one_skikt_namespace():
    """`pip install` must not put top-level `layers` or `app` packages into site-packages."""
    import importlib.util

    import skikt.layers

    assert Path(skikt.layers.__file__).resolve().parent == ROOT / "layers"
    code = "import importlib.util as u; print(u.find_spec('layers'), u.find_spec('app'))"
    res = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True)
    assert res.stdout.split() == ["None", "None"], res.stdout + res.stderr
    assert importlib.util.find_spec("skikt.app") is not None
