"""The files of an evidence pack or a study export: written by pack, checked by verify."""

from __future__ import annotations

MANIFEST = "manifest.json"  # every other file with its SHA-256
CHAIN_CSV = "chain.csv"  # the hash chain of the messages in the pack
MESSAGE_FILES = ("data/messages.parquet", "data/messages.csv")  # rows checked against it
