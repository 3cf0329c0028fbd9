"""Connector plugins: a new channel format is a plugin, not a core change.

A plugin is a module or object with ``@hookimpl`` functions, registered under the ``closeloop`` entry
point group (``[project.entry-points.closeloop]`` in its pyproject). closeloop's own file and mailbox
readers are registered exactly the same way (see ``closeloop.collect.connectors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("closeloop")
hookimpl = pluggy.HookimplMarker("closeloop")


class RowSourceLike(Protocol):
    """What a file reader opens: header columns, rows, and progress in bytes."""

    format: str
    encoding: str | None
    columns: list[str]

    def __iter__(self) -> Iterator[Any]: ...
    def progress(self) -> tuple[int, int]: ...
    def __enter__(self) -> RowSourceLike: ...
    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True, slots=True)
class FileConnector:
    """A way to read feedback from a file export."""

    format: str  # the --format name
    suffixes: tuple[str, ...]  # file suffixes it claims, e.g. (".csv", ".tsv")
    open: Callable[[Path, str | None], RowSourceLike]  # (path, encoding) -> row source
    description: str
    kind: str | None = None  # default kind of its items (e.g. "email"), None = the channel's


class ConnectorSpec:
    @hookspec
    def closeloop_file_connectors(self) -> list[FileConnector]:
        """File formats this plugin can import."""


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """The plugin manager with every installed ``closeloop`` entry point loaded."""
    pm = pluggy.PluginManager("closeloop")
    pm.add_hookspecs(ConnectorSpec)
    pm.load_setuptools_entrypoints("closeloop")
    if not pm.get_plugins():  # running from a source tree without installed metadata
        from closeloop.collect import connectors

        pm.register(connectors)
    return pm


def file_connectors() -> dict[str, FileConnector]:
    """Every file connector by format name."""
    found: dict[str, FileConnector] = {}
    for batch in plugin_manager().hook.closeloop_file_connectors():
        for connector in batch:
            found.setdefault(connector.format, connector)
    return found


def connector_for(path: Path, declared: str | None = None) -> FileConnector:
    """The connector for ``--format`` or, without it, for the file's suffix (a directory = .eml files)."""
    connectors = file_connectors()
    if declared:
        try:
            return connectors[declared.lower()]
        except KeyError:
            raise ValueError(f"unknown format {declared!r}; known: {', '.join(sorted(connectors))}") from None
    suffix = ".eml" if path.is_dir() else path.suffix.lower()
    for connector in connectors.values():
        if suffix in connector.suffixes:
            return connector
    known = sorted(s for c in connectors.values() for s in c.suffixes)
    raise ValueError(
        f"{path}: cannot tell the format from the suffix {suffix!r} (known: {', '.join(known)}); use --format"
    )
