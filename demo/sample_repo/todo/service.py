"""The todo service: add, look up, complete, reopen, list and delete todos."""

from __future__ import annotations

from dataclasses import dataclass

from todo.store import InMemoryStore


class TodoError(Exception):
    """Base class for errors raised by the service."""


class TodoNotFound(TodoError):
    """No todo has the given id."""

    def __init__(self, todo_id: int) -> None:
        super().__init__(f"no todo with id {todo_id}")
        self.todo_id = todo_id


class InvalidTitle(TodoError):
    """A title that is empty or only whitespace."""


@dataclass
class Todo:
    id: int
    title: str
    completed: bool = False


class TodoService:
    """Todos kept in memory; ids start at 1 and are never reused."""

    def __init__(self, store: InMemoryStore[Todo] | None = None) -> None:
        self._store: InMemoryStore[Todo] = store if store is not None else InMemoryStore()

    def add(self, title: str) -> Todo:
        title = title.strip()
        if not title:
            raise InvalidTitle("a todo needs a title")
        todo = Todo(id=self._store.next_id(), title=title)
        self._store.save(todo.id, todo)
        return todo

    def get(self, todo_id: int) -> Todo:
        todo = self._store.load(todo_id)
        if todo is None:
            raise TodoNotFound(todo_id)
        return todo

    def complete(self, todo_id: int) -> Todo:
        """Mark the todo as done."""
        todo = self.get(todo_id)
        todo.completed = not todo.completed
        return todo

    def reopen(self, todo_id: int) -> Todo:
        """Mark the todo as not done."""
        todo = self.get(todo_id)
        todo.completed = False
        return todo

    def list(self, completed: bool | None = None) -> list[Todo]:
        """All todos in id order, or only the done (``True``) or open (``False``) ones."""
        todos = self._store.all()
        if completed is None:
            return todos
        return [todo for todo in todos if todo.completed == completed]

    def delete(self, todo_id: int) -> None:
        if not self._store.remove(todo_id):
            raise TodoNotFound(todo_id)
