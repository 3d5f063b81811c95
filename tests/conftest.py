"""Shared test settings: Hypothesis without deadlines and without an on-disk database."""

from hypothesis import settings

settings.register_profile("convlib", deadline=None, database=None, print_blob=True)
settings.load_profile("convlib")
