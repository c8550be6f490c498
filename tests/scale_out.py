"""The real PostgreSQL and Redis the machines run, for the scale-out tests.

``TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust
auth) and ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) point elsewhere.
Each test run gets a database of its own, dropped afterwards, so parallel runs never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def postgres_answers() -> bool:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES_URL, connect_timeout=2).close()
        return True
    except Exception:
        return False


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def _admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(POSTGRES_URL, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


@contextmanager
def fresh_database_url() -> Iterator[str]:
    """The URL of a database that does not exist yet (Rasa creates it); dropped afterwards."""
    name = f"rasa_test_{uuid.uuid4().hex[:12]}"
    try:
        yield with_database(POSTGRES_URL, name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def created_database_url() -> Iterator[str]:
    """The URL of a new, empty database, for code that does not create its own; dropped after."""
    with fresh_database_url() as url:
        _admin(f'CREATE DATABASE "{urlsplit(url).path.lstrip("/")}"')
        yield url


def count_rows(url: str, sql: str, *params: object) -> int:
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.fetchone()[0])
    finally:
        conn.close()
