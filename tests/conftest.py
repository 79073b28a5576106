"""Shared fixtures: the PostgreSQL engine for storage-dependent tests."""

import os

import pytest

from pgcluster import find_binaries, throwaway_cluster


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL URL: TRUSTEE_TEST_POSTGRES_URL, else a throwaway cluster of our own."""
    given = os.environ.get("TRUSTEE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    if find_binaries() is None:
        pytest.skip(
            "no PostgreSQL binaries on this machine (install postgresql, or set "
            "TRUSTEE_TEST_POSTGRES_URL)"
        )
    with throwaway_cluster() as url:
        yield url
