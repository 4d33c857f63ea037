"""Where the toolkit's own files are."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = PROJECT_ROOT / ".config" / "containers.conf"
# Downloaded packages of each local container, kept when it is re-created (one folder per
# container name: apt locks its archive folder, so containers never share one).
APT_ARCHIVE_CACHE = Path("/var/cache/chaton-toolkit/apt-archives")
