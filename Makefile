# convlib: `make book` and `make test` are the whole set-up (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

# Offline data: when CONVLIB_DATA is unset and the course's shared folder sits
# beside the checkout (course machines, CI), read the archives from there.
ifeq ($(origin CONVLIB_DATA), undefined)
ifneq ($(wildcard ../shared/data/cifar10-jpeg.tar.gz),)
export CONVLIB_DATA := $(abspath ../shared/data)
endif
endif

JB := $(BIN)/jupyter-book build . -n -W --keep-going

.PHONY: help install book book-quick serve test chromium clean

help:
	@echo "make book    build the book (full runs) into _build/html"
	@echo "make test    run every test: unit, doctests, notebooks, book build, browser"
	@echo "make serve   serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make install only create .venv with everything installed"
	@echo "make book-quick  the book with quick (CI-sized) training runs"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(STAMP)

book: $(STAMP)
	$(JB)

# The book with quick (CI-sized) training runs.
book-quick: $(STAMP)
	CONVLIB_QUICK=1 $(JB)

serve:
	@test -f _build/html/index.html || { echo "No book yet: run 'make book' first."; exit 1; }
	@echo "Serving the book on http://127.0.0.1:$(PORT)/  (Ctrl-C stops)"
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Tests run single-threaded: on a shared 2-core machine two spinning OpenMP
# threads per process slow small torch ops down by orders of magnitude.
TEST_ENV := CONVLIB_QUICK=1 OMP_NUM_THREADS=1

test: $(STAMP) chromium
	$(BIN)/python tools/nbtool.py check
	$(TEST_ENV) $(BIN)/python -m pytest tests convlib --nbmake notebooks --nbmake-timeout=1800
	$(TEST_ENV) $(JB)
	$(BIN)/python -m pytest tests/browser

clean:
	rm -rf _build .pytest_cache
