"""Plan a first initiative in an embedded SQLite database and print what is ready to start.

    python examples/first_initiative.py [sqlite:///path/to.db]
"""

from __future__ import annotations

import sys

from codewalkers.db import open_database


def main(url: str) -> None:
    db = open_database(url)
    try:
        initiative = db.initiatives.create(name="User authentication")
        with db.transaction():
            design = db.phases.create(initiative_id=initiative.id, name="Design")
            build = db.phases.create(initiative_id=initiative.id, name="Build")
            db.phases.create_dependency(build.id, design.id)
            flow = db.tasks.create(
                phase_id=design.id, name="Sketch the token flow", priority="high"
            )
            schema = db.tasks.create(phase_id=design.id, name="Design the session table")
            db.tasks.create_dependency(schema.id, flow.id)
            db.tasks.create(phase_id=build.id, name="Implement login")
        root = db.pages.get_or_create_root_page(initiative.id)

        print(f"initiative {initiative.name} ({initiative.id}), root page {root.title!r}")
        for phase in db.phases.find_by_initiative_id(initiative.id):
            waits = db.phases.get_dependencies(phase.id)
            print(f"  phase {phase.name} [{phase.status}]" + (" (waits)" if waits else ""))
            for task in db.tasks.find_by_phase_id(phase.id):
                print(f"    task {task.name} [{task.status}, {task.priority}]")
        print("ready to start:", ", ".join(t.name for t in db.tasks.find_ready(initiative.id)))
    finally:
        db.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///codewalkers-demo.db")
