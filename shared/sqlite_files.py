"""A SQLite database holds personal data (contacts' names and addresses): its file, and the -wal, -shm and
-journal files SQLite keeps beside it, are readable by their owner only, like the key files."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def sqlite_database_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database, an in-memory one or a `file:` URI."""
    parsed = make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or parsed.query.get("uri")
        or database.startswith("file:")
    ):
        return None
    return Path(database)


def make_sqlite_file_private(url: str) -> None:
    """Before SQLite opens the database of `url`: create its file empty with mode 0600 (SQLite takes an
    empty file for a new database), or bring an existing file and its companions to 0600. SQLite gives the
    -wal, -shm and -journal files it creates later the mode of the database file, so they are private too. A
    folder made here gets 0700; an existing folder is left as it is (it may be shared, like /tmp)."""
    path = sqlite_database_path(url)
    if path is None:
        return
    path.parent.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in COMPANION_SUFFIXES)):
        try:
            if file.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
                file.chmod(PRIVATE_FILE_MODE)  # the mode given to os.open is cut by the umask: set it whole
        except FileNotFoundError:
            continue
        except PermissionError:  # someone else's file: say so, and let SQLite decide whether it can open it
            logger.warning("cannot make %s readable by its owner only (not ours)", file)
