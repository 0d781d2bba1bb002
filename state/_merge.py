"""Merging a transaction's sorted overlay into committed iteration; prefix bounds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix (None: none)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def merge_overlay(
    committed: Iterable[tuple[bytes, bytes]],
    overlay: list[tuple[bytes, bytes | None]],
    reverse: bool = False,
) -> Iterator[tuple[bytes, bytes]]:
    """Both inputs sorted by key (descending when reverse); overlay entries win, and a None
    value hides the key.
    """
    if not overlay:
        yield from committed
        return
    pending = iter(overlay)
    head = next(pending, None)
    for key, value in committed:
        while head is not None and (head[0] > key if reverse else head[0] < key):
            if head[1] is not None:
                yield head  # type: ignore[misc]
            head = next(pending, None)
        if head is not None and head[0] == key:
            if head[1] is not None:
                yield head  # type: ignore[misc]
            head = next(pending, None)
        else:
            yield key, value
    while head is not None:
        if head[1] is not None:
            yield head  # type: ignore[misc]
        head = next(pending, None)
