"""The app's side of the one translation mechanism (layers.i18n): the current language, remembered."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from skikt.layers.i18n import DEFAULT_LANG, LANGUAGES, tr

_current = {"lang": None}


def settings() -> QSettings:
    return QSettings("Skikt", "Skikt")


def language() -> str:
    if _current["lang"] is None:
        value = settings().value("language", DEFAULT_LANG)
        _current["lang"] = value if value in LANGUAGES else DEFAULT_LANG
    return _current["lang"]


def set_language(lang: str, remember: bool = True) -> None:
    if lang not in LANGUAGES:
        raise ValueError(lang)
    _current["lang"] = lang
    if remember:
        settings().setValue("language", lang)


def install_qt_translations(app) -> None:
    """Qt's own texts (OK, Cancel, Close, file dialogs) in the interface language."""
    from PySide6.QtCore import QLibraryInfo, QTranslator

    old = getattr(app, "_skikt_translator", None)
    if old is not None:
        app.removeTranslator(old)
        app._skikt_translator = None
    if language() == "en":
        return
    translator = QTranslator(app)
    if translator.load(f"qtbase_{language()}", QLibraryInfo.path(QLibraryInfo.TranslationsPath)):
        app.installTranslator(translator)
        app._skikt_translator = translator  # Qt does not own it: keep it alive


def T(key: str) -> str:
    return tr(key, language())
