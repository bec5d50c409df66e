"""A persistent, content-addressed cache of provider replies.

Key: sha256 of the canonical JSON of provider, model, messages, sampling parameters,
JSON schema and the per-sample seed (and the parse attempt). A hit sends nothing, so
a rerun, a resumed crash or a rebuild with unchanged inputs pays for no request twice.

Storage is one SQLite file in WAL mode: safe with many writers across threads and
processes, and tens of thousands of lookups per second. Only replies are stored,
never request headers, so no key can end up in it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from rolemill.tasks.llm.types import ProviderReply


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(**parts: Any) -> str:
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)"
            )

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> ProviderReply | None:
        row = (
            self._connection().execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        )
        return ProviderReply.from_json(json.loads(row[0])) if row else None

    def put(self, key: str, reply: ProviderReply) -> None:
        self._connection().execute(
            "INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)",
            (key, canonical_json(reply.to_json())),
        )

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
