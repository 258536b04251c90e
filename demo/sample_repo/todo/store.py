"""In-memory storage for todos, keyed by id."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class InMemoryStore(Generic[T]):
    """Keeps items in a dict and hands out increasing integer ids."""

    def __init__(self) -> None:
        self._items: dict[int, T] = {}
        self._last_id = 0

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def save(self, item_id: int, item: T) -> None:
        self._items[item_id] = item

    def load(self, item_id: int) -> T | None:
        return self._items.get(item_id)

    def remove(self, item_id: int) -> bool:
        return self._items.pop(item_id, None) is not None

    def all(self) -> list[T]:
        return [self._items[item_id] for item_id in sorted(self._items)]
