"""Child processes made with ``os.fork()`` after the imports: a crash test can start and kill
fifty of them in a few seconds (a fresh interpreter takes about half a second each).

The child never touches the parent's connections (it opens its own database) and leaves with
``os._exit``, so no finalizer of the parent's objects runs in it. Callers dispose of their own
engines before forking, so that no pooled connection is shared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
from collections.abc import Callable


class Child:
    """A forked process running ``target(write_fd)``; what it writes reaches :meth:`read`."""

    def __init__(self, target: Callable[[int], None]) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                os.close(read_fd)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                target(write_fd)
            except BaseException:
                code = 1
                with contextlib.suppress(OSError):
                    os.write(write_fd, ("\nERROR " + traceback.format_exc()).encode())
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self._fd = read_fd
        self._buffer = b""
        self.exit_status: int | None = None

    def read(self, timeout: float) -> str:
        """What the child wrote so far, waiting up to ``timeout`` seconds for something."""
        import select

        ready, _, _ = select.select([self._fd], [], [], timeout)
        if ready:
            self._buffer += os.read(self._fd, 1 << 20)
        return self._buffer.decode(errors="replace")

    def kill(self) -> str:
        """SIGKILL the child, reap it, and return everything it wrote."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        return self.wait()

    def wait(self) -> str:
        """Wait for the child to end; return everything it wrote."""
        _, status = os.waitpid(self.pid, 0)
        self.exit_status = status
        while chunk := os.read(self._fd, 1 << 20):
            self._buffer += chunk
        os.close(self._fd)
        return self._buffer.decode(errors="replace")

    @property
    def was_killed(self) -> bool:
        return (
            self.exit_status is not None
            and os.WIFSIGNALED(self.exit_status)
            and os.WTERMSIG(self.exit_status) == signal.SIGKILL
        )


def say(fd: int, line: str) -> None:
    """Write one line to the parent (a pipe write of under 4 KiB is atomic)."""
    os.write(fd, (line + "\n").encode())
