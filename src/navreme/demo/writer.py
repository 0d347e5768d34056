"""Bulk writers: many rows per round trip, inside the caller's transaction.

`ExecutemanyWriter` works on any database (one prepared INSERT, `executemany`);
`CopyWriter` streams rows with PostgreSQL's COPY, which is several times faster there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Connection

from navreme.demo.rows import COLUMNS

Row = tuple[object, ...]


class RowWriter(Protocol):
    def write(self, table: str, rows: Sequence[Row]) -> None: ...


class ExecutemanyWriter:
    """INSERT … VALUES with the driver's executemany (SQLite, or PostgreSQL without COPY)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"

    def write(self, table: str, rows: Sequence[Row]) -> None:
        if rows:
            self._connection.exec_driver_sql(self._statement(table), list(rows))

    def _statement(self, table: str) -> str:
        columns = COLUMNS[table]  # our own constants, never user input
        markers = ", ".join([self._marker] * len(columns))
        return " ".join(("INSERT INTO", table, f"({', '.join(columns)})", f"VALUES ({markers})"))


class CopyWriter:
    """COPY … FROM STDIN on the connection's psycopg driver connection (PostgreSQL only)."""

    def __init__(self, connection: Connection) -> None:
        self._driver = connection.connection.driver_connection

    def write(self, table: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        statement = f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"
        with self._driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)


def writer_for(connection: Connection, *, method: str = "auto") -> RowWriter:
    """COPY on PostgreSQL unless `method='executemany'`; executemany everywhere else."""
    if method not in ("auto", "copy", "executemany"):
        raise ValueError(f"unknown write method {method!r}")
    postgres = connection.dialect.name == "postgresql"
    if method == "copy" and not postgres:
        raise ValueError("COPY needs PostgreSQL")
    if postgres and method != "executemany":
        return CopyWriter(connection)
    return ExecutemanyWriter(connection)
