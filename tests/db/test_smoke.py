from codewalkers.db import Database
from tests.factories import make_task


def test_a_task_round_trips(db: Database) -> None:
    task = make_task(db)
    assert db.tasks.find_by_id(task.id) == task
