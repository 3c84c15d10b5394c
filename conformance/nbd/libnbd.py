"""Import libnbd's Python binding (`nbd`), which Debian installs for its own Python only.

If the venv cannot import it, we link just Debian's nbd.py and libnbdmod*.so into a private
cache folder and put that folder on sys.path, rather than all of dist-packages.
"""

from __future__ import annotations

import glob
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

DEBIAN_DIR = Path("/usr/lib/python3/dist-packages")


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qconform" / f"libnbd-py{sys.version_info.major}{sys.version_info.minor}"


def _link_debian_binding() -> Path | None:
    sources = [DEBIAN_DIR / "nbd.py", *map(Path, glob.glob(str(DEBIAN_DIR / "libnbdmod*.so")))]
    if not all(p.exists() for p in sources) or len(sources) < 2:
        return None
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        link = folder / source.name
        if not link.is_symlink():
            tmp = folder / f".{source.name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(source)
            tmp.replace(link)  # atomic: parallel test workers may race here
    return folder


def load() -> ModuleType | None:
    """The `nbd` module, or None when libnbd's binding is not installed."""
    try:
        module = importlib.import_module("nbd")
        if hasattr(module, "NBD"):
            return module
    except ImportError:
        pass
    # Not installed for this Python, or shadowed (a folder named nbd on sys.path, e.g. tests/nbd).
    sys.modules.pop("nbd", None)
    folder = _link_debian_binding()
    if folder is None:
        return None
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module("nbd")
    except ImportError:
        return None
    return module if hasattr(module, "NBD") else None
