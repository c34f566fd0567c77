"""The report as PDF, printed by headless Chromium from the HTML page.

Chromium is found as ``LEAKTRACE_CHROMIUM`` or on the PATH (Debian: ``apt-get install
chromium``). The page has no script and loads nothing from the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from leaktrace.errors import LeaktraceError

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 300  # seconds; a report of thousands of messages prints in well under this


class PdfError(LeaktraceError, RuntimeError):
    """No Chromium to print with, or it failed."""


def find_chromium() -> str | None:
    """The Chromium executable to print with, if there is one."""
    configured = os.environ.get("LEAKTRACE_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return next((found for name in _NAMES if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, chromium: str | None = None) -> Path:
    """Print ``html`` to ``pdf`` (A4, no header or footer); ``PdfError`` when it cannot."""
    binary = chromium or find_chromium()
    if binary is None:
        raise PdfError(key="err_pdf_no_chromium")
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="leaktrace-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(key="err_pdf_timeout", html=html, timeout=TIMEOUT) from exc
    if not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise PdfError(key="err_pdf_failed", html=html, code=done.returncode, stderr=" ".join(tail))
    return pdf
