import pytest

from todo import InvalidTitle, TodoNotFound, TodoService


@pytest.fixture
def service():
    return TodoService()


def test_add_returns_an_open_todo(service):
    todo = service.add("write the report")
    assert todo.title == "write the report"
    assert todo.completed is False


def test_ids_increase(service):
    first = service.add("one")
    second = service.add("two")
    assert second.id == first.id + 1


def test_add_strips_the_title(service):
    assert service.add("  buy milk \n").title == "buy milk"


def test_blank_title_is_rejected(service):
    with pytest.raises(InvalidTitle):
        service.add("   ")


def test_get_returns_the_todo(service):
    todo = service.add("call Sam")
    assert service.get(todo.id) is todo


def test_get_unknown_id_raises(service):
    with pytest.raises(TodoNotFound, match="no todo with id 42"):
        service.get(42)


def test_complete_marks_the_todo_done(service):
    todo = service.add("water the plants")
    assert service.complete(todo.id).completed is True
    assert service.get(todo.id).completed is True


def test_reopen_after_complete(service):
    todo = service.add("fix the bike")
    service.complete(todo.id)
    assert service.reopen(todo.id).completed is False


def test_list_filters_by_completed(service):
    done = service.add("done")
    still_open = service.add("open")
    service.complete(done.id)
    assert service.list() == [done, still_open]
    assert service.list(completed=True) == [done]
    assert service.list(completed=False) == [still_open]


def test_delete_removes_the_todo(service):
    todo = service.add("temporary")
    service.delete(todo.id)
    assert service.list() == []
    with pytest.raises(TodoNotFound):
        service.get(todo.id)


def test_unknown_ids_raise_for_every_operation(service):
    for operation in (service.complete, service.reopen, service.delete):
        with pytest.raises(TodoNotFound):
            operation(7)
