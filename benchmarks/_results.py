"""Write one benchmark's section of benchmarks/RESULTS.md in place, leaving every other section alone."""

from __future__ import annotations

import platform
import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nFigures measured by the scripts in this folder; each section names its command and machine.\n"


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load_note() -> str:
    """How busy the machine was (the 1-minute load average), so readers can judge the absolute figures."""
    import os

    return f"1-minute load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when it finished"


def write_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of RESULTS.md with `body`."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(RESULTS)
