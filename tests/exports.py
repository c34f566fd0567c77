"""Messages written as the CSV export a user imports, then imported and analysed."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from leaktrace import roster
from leaktrace.ingest.importer import ImportOptions, import_file
from leaktrace.pipeline import analyse
from leaktrace.store import Store

Row = tuple[datetime, str, str, str]  # time, canary label, sender, body


def send(store: Store, tmp_path: Path, rows: list[Row]) -> None:
    """Import the rows as one CSV export (a new file each call), then analyse the store."""
    contacts = {c.label: c.phone or c.email for c in roster.list_canaries(store)}
    path = tmp_path / f"export-{len(list(tmp_path.glob('export-*.csv')))}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["received_at", "recipient", "sender", "body"])
        for when, label, sender, body in rows:
            writer.writerow([when.isoformat(), contacts[label], sender, body])
    import_file(store, path, ImportOptions())
    analyse(store)
