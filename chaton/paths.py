"""Where the toolkit's own files are."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = PROJECT_ROOT / ".config" / "containers.conf"
APT_ARCHIVE_CACHE = Path("/var/cache/chaton-toolkit/apt-archives")
