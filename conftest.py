"""Repository-wide pytest guard: no test or doctest may leave the course's
environment switches changed, because the notebooks run later in the same
session (nbmake) inherit them."""

import os

import pytest


def _switches() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("CONVLIB_") or k == "OMP_NUM_THREADS"}


@pytest.fixture(autouse=True)
def _environment_unchanged():
    before = _switches()
    yield
    after = _switches()
    assert after == before, f"a test changed the environment: {before} -> {after}; restore it (monkeypatch.setenv)"
