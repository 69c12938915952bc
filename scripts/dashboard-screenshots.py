"""Screenshots of every dashboard screen, from a seeded workspace, for docs/dashboard.md.

    .venv/bin/python scripts/dashboard-screenshots.py [OUT_DIR]     # default docs/dashboard/

Builds a throwaway workspace (SQLite) with a git project, an initiative with pages, phases
and tasks, and fake agents (one printing, one waiting for an answer: an inbox question),
starts `cw start --detach` on a free port, signs in with `cw open --print`, and saves one
PNG per screen of :data:`SCREENS` (1280x800), in the light theme and the dark one, then
runs `optipng` on them when it is installed. Needs chromium (`apt-get install chromium`,
or CW_CHROMIUM=/path) and the dev extras (Playwright).

A new screen is one line in :data:`SCREENS`; a screen whose page answers 404 (not built
on this branch yet) is skipped with a note, not an error.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}

#: (file name, path with {ids} from the seed, CSS selector to wait for or None).
#: Ids: initiative, page (a content page), printing and waiting (agent names).
SCREENS: list[tuple[str, str, str | None]] = [
    ("initiatives", "/ui/initiatives", ".card"),
    ("content", "/ui/initiatives/{initiative}/pages/{page}", '#save-state[data-state="saved"]'),
    ("plan", "/ui/initiatives/{initiative}", "#plan .phase"),
    ("execution", "/ui/initiatives/{initiative}/execution", ".pipeline"),
    ("review", "/ui/initiatives/{initiative}/review", None),
    ("agents", "/ui/agents?filter=all", None),
    ("agent", "/ui/agents/{printing}", "#log :text('line 30 of 30')"),
    ("inbox", "/ui/inbox", None),
    ("settings", "/ui/settings", None),
]

ARCHITECTURE = """\
The login flow moves from server sessions to **short-lived tokens**, refreshed in the
background. See [RFC 6749](https://www.rfc-editor.org/rfc/rfc6749) for the grant types.

## Decisions

- Tokens live *15 minutes*; refresh tokens 30 days, rotated on use
- Sessions are stored in `Postgres`, not Redis

Before the Build phase:

- [x] Threat model reviewed
- [ ] Load test the refresh path

## Endpoints

| Method | Path             | Purpose          |
| :----- | :--------------- | :--------------- |
| POST   | `/auth/login`    | password → token |
| POST   | `/auth/refresh`  | rotate a token   |

```python
def refresh(token: str) -> Token:
    return issue(verify(token).subject)
```

> [!NOTE]
> The old cookie sessions keep working until the Build phase completes.
"""


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def cw(space: Path, env: dict[str, str], *args: str) -> Any:
    return json.loads(run([str(BIN / "cw"), *args, "--json"], space, env))


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(base: Path, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    remote, work = base / "remote.git", base / "upstream"
    git = {**env, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com"}
    git |= {"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], base, git)
    run(["git", "init", "-q", "--initial-branch=main", str(work)], base, git)
    (work / "README.md").write_text("# app\n")
    run(["git", "add", "-A"], work, git)
    run(["git", "commit", "-q", "-m", "seed"], work, git)
    run(["git", "push", "-q", str(remote), "HEAD:refs/heads/main"], work, git)

    space = base / "workspace"
    space.mkdir()
    cw(space, env, "init")
    with (space / ".cwrc").open("a") as cwrc:
        cwrc.write(f'\n[providers.claude]\ncommand = "{BIN / "cw-fake-agent"}"\n')
    project = cw(space, env, "project", "add", "app", remote.as_uri())
    auth = cw(space, env, "initiative", "create", "Auth overhaul", "--project", project["id"])
    cw(space, env, "initiative", "create", "Billing v2")
    design = cw(space, env, "phase", "create", "--initiative", auth["id"], "Design")
    build = cw(space, env, "phase", "create", "--initiative", auth["id"], "Build")
    cw(space, env, "phase", "depend", build["id"], "--on", design["id"])
    spec = cw(space, env, "task", "create", "Write the spec", "--phase", design["id"])
    cw(space, env, "task", "status", spec["id"], "completed")
    cw(space, env, "phase", "status", design["id"], "completed")
    form = cw(
        space,
        env,
        "task",
        "create",
        "Login form",
        "--phase",
        build["id"],
        "--description",
        scenario({"print": {"lines": 30, "rate": 50}}, {"hang": True}),
    )
    sessions = cw(
        space,
        env,
        "task",
        "create",
        "Session store",
        "--phase",
        build["id"],
        "--description",
        scenario({"print": 3}, {"ask": [{"id": "q1", "question": "Redis or Postgres?"}]}),
    )
    cw(space, env, "task", "depend", sessions["id"], "--on", form["id"])
    (base / "architecture.md").write_text(ARCHITECTURE, encoding="utf-8")
    architecture = cw(
        space, env, "page", "create", "--initiative", auth["id"], "Architecture",
        "--content", str(base / "architecture.md"),
    )  # fmt: skip
    for title, parent in (("Token format", architecture["id"]), ("Open questions", None)):
        extra = ["--parent", parent] if parent else []
        cw(space, env, "page", "create", "--initiative", auth["id"], title, *extra)
    return space, {
        "form": form["id"],
        "sessions": sessions["id"],
        "initiative": auth["id"],
        "page": architecture["id"],
    }


def shoot(out: Path, base: str, space: Path, env: dict[str, str], ids: dict[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        for theme in ("light", "dark"):
            context = browser.new_context(viewport=VIEWPORT, color_scheme=theme)
            page = context.new_page()
            page.goto(cw(space, env, "open", "--print")["url"])  # a link works once
            page.wait_for_url("**/ui/initiatives")
            for name, path, ready in SCREENS:
                answer = page.goto(base + path.format(**ids))
                if answer is not None and answer.status == 404:
                    print(f"{name}: {path} answers 404 (not built here yet), skipped")
                    continue
                expect(page.locator("#health")).to_have_attribute("data-state", "live")
                if ready:
                    expect(page.locator(ready).first).to_be_visible()
                target = out / f"{name}-{theme}.png"
                page.screenshot(path=str(target))
                written.append(target)
                print(target)
            context.close()
        browser.close()
    optipng = shutil.which("optipng")
    if optipng and written:
        subprocess.run([optipng, "-quiet", "-o2", *map(str, written)], check=False)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env.pop("DISPLAY", None)
    with tempfile.TemporaryDirectory(prefix="cw-shots-") as tmp:
        space, ids = seed(Path(tmp), env)
        port = free_port()
        cw(space, env, "start", "--detach", "--port", str(port))
        try:
            printing = cw(space, env, "agent", "spawn", "--task", ids["form"])["name"]
            waiting = cw(space, env, "agent", "spawn", "--task", ids["sessions"])["name"]
            deadline = time.monotonic() + 60
            while cw(space, env, "agent", "get", waiting)["status"] != "waiting_for_input":
                if time.monotonic() > deadline:
                    raise SystemExit(f"agent {waiting} never asked its question")
                time.sleep(0.3)
            base = f"http://127.0.0.1:{port}"
            ids |= {"printing": printing, "waiting": waiting}
            shoot(out, base, space, env, ids)
        finally:
            for agent in cw(space, env, "agent", "list"):
                if agent["status"] in {"running", "waiting_for_input"}:
                    stop = [str(BIN / "cw"), "agent", "stop", agent["name"]]
                    subprocess.run(stop, cwd=space, env=env, check=False, capture_output=True)
            run([str(BIN / "cw"), "stop"], space, env)


if __name__ == "__main__":
    main()
