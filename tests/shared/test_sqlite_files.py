"""SQLite files hold personal data: after a migration and a write, the database and the -wal and -shm files
SQLite made beside it are readable by their owner only, and so is a folder made for them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.commitments.migrate import upgrade_database
from services.commitments.outbox.models import OutboxMessage
from shared.db import create_engine, create_sessionmaker
from shared.sqlite_files import make_sqlite_file_private, sqlite_database_path


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that lets everyone read new files: the modes must not depend on the caller's umask."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def _write_and_check_modes(url: str, database: Path) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add(
                OutboxMessage(
                    event_id=uuid.uuid4(),
                    event_type="test.written",
                    payload="{}",
                    headers={},
                    created_at=datetime.now(UTC),
                )
            )
        # While the engine holds its connection, the write-ahead log and its index are on disk.
        files = {path.name: _mode(path) for path in database.parent.iterdir()}
        assert files == {database.name: 0o600, f"{database.name}-wal": 0o600, f"{database.name}-shm": 0o600}
    finally:
        await engine.dispose()


async def test_a_new_database_its_companions_and_its_new_folder_are_private(
    tmp_path: Path, permissive_umask: None
) -> None:
    database = tmp_path / "new-folder" / "commitments.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    assert _mode(database.parent) == 0o700
    await _write_and_check_modes(url, database)


async def test_an_older_installation_s_readable_files_are_made_private(
    tmp_path: Path, permissive_umask: None
) -> None:
    database = tmp_path / "commitments.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.touch()
        path.chmod(0o644)
    upgrade_database(url)
    await _write_and_check_modes(url, database)


def test_urls_without_a_file_of_their_own_are_left_alone(tmp_path: Path) -> None:
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+aiosqlite:///:memory:",
        "postgresql://u@h/db",
        f"sqlite:///file:{tmp_path}/x.db?mode=memory&uri=true",
    ):
        assert sqlite_database_path(url) is None
        make_sqlite_file_private(url)
    assert list(tmp_path.iterdir()) == []
    assert sqlite_database_path(f"sqlite+aiosqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
