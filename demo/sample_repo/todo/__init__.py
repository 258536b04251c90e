"""A small in-memory todo service."""

from todo.service import InvalidTitle, Todo, TodoError, TodoNotFound, TodoService

__all__ = ["InvalidTitle", "Todo", "TodoError", "TodoNotFound", "TodoService"]
