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

# Sphinx rebuilds only the pages whose notebooks changed. Their outputs also
# depend on CONVLIB_QUICK and on the library (ops, widgets' JS), which Sphinx
# does not track: when either differs from the last build, every page is redone,
# or the book would mix quick and full runs, or old and new widgets.
# $(call build_book,quick|full,extra environment)
BOOK_STAMP := _build/.book-inputs
define build_book
	mkdir -p _build
	key="$(1) $$(find convlib -type f \( -name '*.py' -o -name '*.js' \) | LC_ALL=C sort | xargs cat | sha1sum | cut -c1-16)"; \
	again=$$([ "$$(cat $(BOOK_STAMP) 2>/dev/null)" = "$$key" ] || echo --all); \
	rm -f $(BOOK_STAMP); \
	$(2) $(JB) $$again; \
	echo "$$key" > $(BOOK_STAMP)
endef

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
	$(call build_book,full,)

# The book with quick (CI-sized) training runs.
book-quick: $(STAMP)
	$(call build_book,quick,CONVLIB_QUICK=1)

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
	$(call build_book,quick,$(TEST_ENV))
	$(BIN)/python -m pytest tests/browser

clean:
	rm -rf _build .pytest_cache
