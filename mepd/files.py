"""Files mepd owns (the state file, Home Assistant's pending hours): never half written, and a
damaged one set aside for the user to look at rather than deleted or overwritten."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def write_atomically(path: Path, text: str, *, prefix: str, mode: int | None = None) -> None:
    """The file is the old one or the new one, never half of either (fsync, then rename);
    `mode`: its permissions (mkstemp's 0600 otherwise). Raises OSError, nothing left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(handle, "w") as stream:
            if mode is not None:
                os.fchmod(stream.fileno(), mode)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def keep_aside(path: Path) -> Path:
    """Rename a damaged file to `<name>.bad-<UTC stamp>` and say where; `path` itself if it
    could not be moved."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for attempt in range(1000):
        suffix = f".bad-{stamp}" + (f"-{attempt}" if attempt else "")
        target = path.with_name(path.name + suffix)
        if not target.exists():
            try:
                os.replace(path, target)
            except OSError:
                break
            return target
    return path
