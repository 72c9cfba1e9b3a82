"""Where the live index lives inside the index directory, and how a rebuild replaces it.

The index directory holds numbered generations (``gen-000001``, ...) and a ``CURRENT`` file
naming the live one. A rebuild writes a new generation beside the live one and publishes it
by atomically replacing ``CURRENT``; until then readers and writers keep using the old one,
so a rebuild that dies half-way leaves the old index untouched. Each generation names the
engine that wrote it in its ``ENGINE`` file (none: Whoosh, as every index before there was
a choice), so a reader opens it with that engine whatever the setting says now.

A generation holds two indexes, its shards: ``documents`` and ``quotes``. A search for one
type opens one of them, and a shard that cannot be read leaves the other answering.
Generations written before the split hold one index of both types, the shard ``all``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

__all__ = [
    "SHARDS",
    "current",
    "discard_stale",
    "engine_of",
    "new_generation",
    "new_shards",
    "publish",
    "shards",
]

# shard -> the record types it holds
SHARDS = {"documents": ("document",), "quotes": ("quote",)}
_BOTH = "all"

log = logging.getLogger(__name__)

_POINTER = "CURRENT"
_PREFIX = "gen-"
_ENGINE = "ENGINE"


def current(root: Path) -> Path | None:
    """The live generation's directory, or None if nothing was ever published."""
    try:
        name = (root / _POINTER).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return root / name


def new_generation(root: Path, engine: str = "whoosh") -> Path:
    """Create and return a directory for the next generation, written by ``engine``."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[len(_PREFIX) :]) for p in root.glob(_PREFIX + "*") if p.is_dir()]
    path = root / f"{_PREFIX}{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    (path / _ENGINE).write_text(engine + "\n", encoding="ascii")
    return path


def new_shards(generation: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Make the empty folders of ``generation``'s shards; return them as `shards` does."""
    for shard in SHARDS:
        (generation / shard).mkdir()
    return shards(generation)


def shards(generation: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Each shard of ``generation``: its folder and the record types it holds."""
    if any((generation / shard).is_dir() for shard in SHARDS):
        return {shard: (generation / shard, types) for shard, types in SHARDS.items()}
    return {_BOTH: (generation, ("document", "quote"))}


def engine_of(generation: Path) -> str:
    """The engine that wrote ``generation``."""
    try:
        return (generation / _ENGINE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return "whoosh"


def publish(root: Path, generation: Path) -> None:
    """Make ``generation`` the live index, atomically."""
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".current-")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(generation.name + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, root / _POINTER)
    log.info("published index generation %s", generation.name)


def discard_stale(root: Path) -> None:
    """Remove every generation but the live one (left by older or failed rebuilds)."""
    live = current(root)
    for path in root.glob(_PREFIX + "*"):
        if path.is_dir() and path != live:
            log.info("removing stale index generation %s", path.name)
            shutil.rmtree(path)
