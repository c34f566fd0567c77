"""Domains: the registrable domain a host belongs to, from the bundled public suffix list."""

from __future__ import annotations

from functools import cache

import tldextract


@cache
def _domains() -> tldextract.TLDExtract:
    # The bundled public suffix list, private suffixes (github.io, …) included: no network.
    return tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


def registrable_domain(host: str) -> str:
    """The domain a host belongs to (``mail.x.com.cn`` → ``x.com.cn``), the last two
    labels under a suffix the public list does not know (``.test``), an IP as it is."""
    parts = _domains()(host)
    if parts.suffix:
        return f"{parts.domain}.{parts.suffix}" if parts.domain else host
    labels = host.split(".")
    if len(labels) <= 2 or all(label.isdigit() for label in labels):
        return host
    return ".".join(labels[-2:])
