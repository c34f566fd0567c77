"""A separate process that uses a store the way the CLI, a receiver or the dashboard do."""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime

from leaktrace.store import Store


def key(text: str) -> int:
    """The message key a writer gives its message called ``text``."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:32], 16)


def write(path: str, name: str, count: int) -> None:
    """Insert ``count`` messages, one short transaction each, like a receiver."""
    store = Store(path, lock_timeout=60)
    for i in range(count):
        with store.transaction() as con:
            con.execute(
                "INSERT INTO messages (message_key, batch_id, channel, recipient, sender,"
                " received_at, body, raw, raw_sha256)"
                " VALUES (?, 0, 'sms', '+8613800138000', '106900', ?, ?, '', '')",
                [
                    key(f"{name}-{i}"),
                    datetime.now(UTC),
                    f"您有30000元备用金额度 {name} {i} 回T退订",
                ],
            )


def read(path: str, count: int) -> None:
    """Count messages ``count`` times, like a dashboard refreshing."""
    store = Store(path, lock_timeout=60)
    for _ in range(count):
        with store.connect() as con:
            con.execute("SELECT count(*) FROM messages").fetchone()


def hold(path: str, seconds: float) -> None:
    """Keep the store open in one long transaction, like a big import."""
    store = Store(path, lock_timeout=60)
    with store.transaction() as con:
        con.execute(
            "INSERT INTO messages (message_key, batch_id, channel, recipient, sender,"
            " received_at, body, raw, raw_sha256)"
            " VALUES (0, 0, 'sms', '+8613800138000', '', now(), 'long import', '', '')"
        )
        print("holding", flush=True)
        time.sleep(seconds)


if __name__ == "__main__":
    role, path, *rest = sys.argv[1:]
    if role == "write":
        write(path, rest[0], int(rest[1]))
    elif role == "read":
        read(path, int(rest[0]))
    else:
        hold(path, float(rest[0]))
