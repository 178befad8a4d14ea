# The two commands of the README: `make run` and `make test`. Both build .venv from nothing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench sample screenshots clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# Byte-compile our own sources once: an editable install is not compiled by pip, and with
	@# PYTHONDONTWRITEBYTECODE set every start would compile them again.
	$(BIN)/python -m compileall -q layers app
	touch $(STAMP)

run: $(STAMP)
	@# Exit code 2 means Skikt has already said what is wrong in one line (e.g. a missing system
	@# library): do not add make's own error line under it.
	@$(BIN)/skikt; status=$$?; [ $$status -eq 2 ] || exit $$status

test: $(STAMP)
	@# One xdist worker runs the tests in order, as plain pytest would; it exists so that a hard
	@# crash in native code (a GDAL segfault on the app's worker thread was seen once under load;
	@# PySide6 6.12's refcount bug, now kept out in pyproject.toml, was another cause) fails and
	@# reruns that one test instead of killing the whole run. Only crashes are rerun.
	QT_QPA_PLATFORM=offscreen MPLBACKEND=Agg $(BIN)/python -m pytest -q -n 1 --reruns 1 --only-rerun crashed

bench: $(STAMP)
	$(BIN)/skikt bench

sample: $(STAMP)
	$(BIN)/python sample_data/generate.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/skikt --screenshot docs/main_window.png --size 1600x1000 --lang sv

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
