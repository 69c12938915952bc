"""Plans that could never progress are refused, and the refusal names the path."""

from __future__ import annotations

from tests.cli.conftest import Cw


def test_a_task_cannot_wait_for_a_task_of_a_phase_that_waits_for_its_own(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    design = cw.ok("phase", "create", "Design", "--initiative", initiative)["id"]
    rollout = cw.ok("phase", "create", "Rollout", "--initiative", initiative)["id"]
    cw.ok("phase", "depend", rollout, "--on", design)
    t1 = cw.ok("task", "create", "Sketch", "--phase", design)["id"]
    t8 = cw.ok("task", "create", "Ship", "--phase", rollout)["id"]
    result = cw.fails("task", "depend", t1, "--on", t8)
    assert "impossible" in result.stderr
    assert f"task {t1}" in result.stderr and f"phase {design}" in result.stderr
    assert cw.ok("task", "get", t1)["depends_on"] == []
    assert [t["id"] for t in cw.ok("task", "ready", "--initiative", initiative)] == [t1]


def test_a_phase_cannot_depend_on_a_phase_whose_task_waits_for_it(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    design = cw.ok("phase", "create", "Design", "--initiative", initiative)["id"]
    rollout = cw.ok("phase", "create", "Rollout", "--initiative", initiative)["id"]
    t1 = cw.ok("task", "create", "Sketch", "--phase", design)["id"]
    t8 = cw.ok("task", "create", "Ship", "--phase", rollout)["id"]
    cw.ok("task", "depend", t1, "--on", t8)
    result = cw.fails("phase", "depend", rollout, "--on", design)
    assert "impossible" in result.stderr


def test_a_task_cannot_depend_on_another_initiatives_task(cw: Cw) -> None:
    a = cw.ok("initiative", "create", "Auth")["id"]
    b = cw.ok("initiative", "create", "Billing")["id"]
    ta = cw.ok("task", "create", "x", "--initiative", a)["id"]
    tb = cw.ok("task", "create", "y", "--initiative", b)["id"]
    assert "different initiatives" in cw.fails("task", "depend", ta, "--on", tb).stderr
