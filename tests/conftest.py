"""Shared fixtures: the two storage engines every storage-dependent test runs on.

A test (or fixture) that asks for ``storage_url`` runs twice, once on SQLite and once on
PostgreSQL; ``-m "not postgres"`` keeps only the SQLite half. The PostgreSQL half uses one
throwaway cluster for the whole session (or ``TRUSTEE_TEST_POSTGRES_URL``), started the first
time a test needs it, with a database per test module or test inside it.

- ``storage_url``: a database with no data, for one test (SQLite: a new file; PostgreSQL: the
  session's migrated database, emptied again).
- ``empty_storage_url``: a database that has never been opened, for tests of migrations.
- ``module_storage_url``: a database shared by a test module's tests, for a module-scoped
  server.
- ``dev_core``: an initialised, unsealed :class:`~trustee.core.Core` over ``storage_url`` with
  the root token ``"root"``.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines import DevCore, open_dev_core
from pgcluster import Databases, find_binaries, throwaway_cluster

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL: TRUSTEE_TEST_POSTGRES_URL (whose user may create databases), else a
    throwaway cluster of our own."""
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


@pytest.fixture(scope="session")
def postgres_databases(postgres_url: str) -> Iterator[Databases]:
    """Makes and drops the databases of this session inside the one PostgreSQL server."""
    databases = Databases(postgres_url)
    yield databases
    databases.close()


@pytest.fixture(scope="module", params=ENGINES)
def storage_engine(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: module-scoped, so module fixtures follow it."""
    return request.param


@pytest.fixture
def storage_url(storage_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no data in it, for this test alone."""
    if storage_engine == "sqlite":
        return f"sqlite:///{tmp_path / 'trustee.db'}"
    return request.getfixturevalue("postgres_databases").recycled()


@pytest.fixture
def empty_storage_url(
    storage_engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A database never opened before: no tables, no migrations applied."""
    if storage_engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'trustee.db'}"
        return
    databases: Databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture(scope="module")
def module_storage_url(
    storage_engine: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An empty database for this module's tests together (module-scoped servers)."""
    if storage_engine == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('storage') / 'trustee.db'}"
        return
    databases: Databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture
def dev_core(storage_url: str) -> Iterator[DevCore]:
    """A ready core over ``storage_url``: initialised with one share, unsealed, root "root"."""
    ready = open_dev_core(storage_url, root_token="root")
    yield ready
    ready.core.close()
