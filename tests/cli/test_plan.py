from tests.cli.conftest import Cw


def test_a_task_created_in_a_phase_is_ready(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    phase = cw.ok("phase", "create", "--initiative", initiative["id"], "Design")
    task = cw.ok("task", "create", "Sketch", "--phase", phase["id"], "--priority", "high")
    assert task["initiative_id"] == initiative["id"]
    ready = cw.ok("task", "ready", "--initiative", initiative["id"])
    assert [t["id"] for t in ready] == [task["id"]]


def test_a_bad_priority_is_one_line_and_changes_nothing(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    result = cw.fails(
        "task", "create", "x", "--initiative", initiative["id"], "--priority", "urgent"
    )
    assert "priority" in result.stderr
    assert cw.ok("task", "list", "--initiative", initiative["id"]) == []
