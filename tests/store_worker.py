"""A separate process that uses a store the way the CLI, a receiver or the dashboard do.

It tells the test what it is doing on its standard streams, so a test asserts on
the order of events, never on how long anything took: ``hold`` prints ``holding``
once it holds the store and keeps it until a line (or end of file) arrives on its
standard input, then prints ``released``; ``write`` and ``read`` print ``waiting``
the first time they find the store locked by another process. Tests start a holder
with :func:`start_holding` and let it go with :func:`release`.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from leaktrace.store import Store, connection


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


def hold(path: str) -> None:
    """Keep the store open in one long transaction, like a big import, until told."""
    store = Store(path, lock_timeout=60)
    with store.transaction() as con:
        con.execute(
            "INSERT INTO messages (message_key, batch_id, channel, recipient, sender,"
            " received_at, body, raw, raw_sha256)"
            " VALUES (0, 0, 'sms', '+8613800138000', '', now(), 'long import', '', '')"
        )
        print("holding", flush=True)
        sys.stdin.readline()
    print("released", flush=True)


def start_holding(path: Path | str) -> subprocess.Popen:
    """A process holding the store at ``path`` in an open transaction until :func:`release`."""
    holder = subprocess.Popen(
        [sys.executable, __file__, "hold", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if holder.stdout.readline().strip() != "holding":
        raise AssertionError(f"the holder did not start: {holder.communicate(timeout=60)[1]}")
    return holder


def release(holder: subprocess.Popen) -> None:
    """Let the holder commit and exit; it must still be holding the store when told."""
    assert holder.poll() is None, "the holder let go of the store before it was told"
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    _, stderr = holder.communicate(timeout=60)
    assert holder.returncode == 0, stderr


def report_waiting() -> None:
    """Print ``waiting`` the first time opening the store finds it locked."""
    is_lock_error = connection.is_lock_error
    said = False

    def checked(exc: BaseException) -> bool:
        nonlocal said
        locked = is_lock_error(exc)
        if locked and not said:
            said = True
            print("waiting", flush=True)
        return locked

    connection.is_lock_error = checked


if __name__ == "__main__":
    role, path, *rest = sys.argv[1:]
    if role == "write":
        report_waiting()
        write(path, rest[0], int(rest[1]))
    elif role == "read":
        report_waiting()
        read(path, int(rest[0]))
    else:
        hold(path)
