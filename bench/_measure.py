"""Timing: calibrated rounds, repository and floor alternating, median and spread per op."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Op = Callable[[int], Any]


@dataclass(frozen=True)
class Timing:
    """Seconds per operation over the measured rounds."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    rounds: int
    ops_per_round: int

    @classmethod
    def of(cls, samples: list[float], ops: int) -> Timing:
        ordered = sorted(samples)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(
            median=statistics.median(ordered),
            q1=q1,
            q3=q3,
            min=ordered[0],
            max=ordered[-1],
            rounds=len(ordered),
            ops_per_round=ops,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            key: round(value * 1e6, 3) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


class _Counter:
    def __init__(self, op: Op) -> None:
        self.op = op
        self.next = 0
        self.cpu = 0.0

    def run(self, count: int) -> float:
        """Run ``count`` ops; wall-clock seconds per op (CPU seconds per op in ``self.cpu``)."""
        op, start_index = self.op, self.next
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        for i in range(start_index, start_index + count):
            op(i)
        elapsed = time.perf_counter() - start
        self.cpu = (time.process_time() - cpu) / count
        self.next = start_index + count
        return elapsed / count


def compare(
    repository: Op,
    floor: Op,
    *,
    rounds: int,
    round_seconds: float,
    max_ops: int = 20_000,
) -> tuple[Timing, Timing, Timing, Timing]:
    """Time both sides: calibrate the round size on the repository (the slower side), warm
    both up with one round, then alternate measured rounds (which side goes first alternates
    too, so drift such as WAL growth or checkpoints hits both alike).

    Returns wall-clock timings (repository, floor), then CPU timings (repository, floor):
    the process's CPU time is what the layer itself adds, and is steadier on a loaded machine.
    """
    sides = {"repository": _Counter(repository), "floor": _Counter(floor)}
    probe = sides["repository"]
    per_op = probe.run(1)
    calibrated = 1
    while calibrated * per_op < min(0.05, round_seconds) and calibrated < max_ops:
        count = min(max_ops, calibrated * 4)
        per_op = probe.run(count)
        calibrated = count
    ops = max(1, min(max_ops, int(round_seconds / max(per_op, 1e-9))))
    for side in sides.values():
        side.run(ops)
    samples: dict[str, list[float]] = {"repository": [], "floor": []}
    cpu: dict[str, list[float]] = {"repository": [], "floor": []}
    for r in range(rounds):
        order = ("repository", "floor") if r % 2 == 0 else ("floor", "repository")
        for name in order:
            samples[name].append(sides[name].run(ops))
            cpu[name].append(sides[name].cpu)
    return (
        Timing.of(samples["repository"], ops),
        Timing.of(samples["floor"], ops),
        Timing.of(cpu["repository"], ops),
        Timing.of(cpu["floor"], ops),
    )


def compare_with_setup(
    setup: Callable[[], Any],
    repository: Callable[[Any], Any],
    floor: Callable[[Any], Any],
    *,
    rounds: int,
    warmup: int = 1,
) -> tuple[Timing, Timing, Timing, Timing]:
    """Time single expensive ops that each need fresh, unmeasured setup (a cascade delete)."""
    samples: dict[str, list[float]] = {"repository": [], "floor": []}
    cpu: dict[str, list[float]] = {"repository": [], "floor": []}
    ops = {"repository": repository, "floor": floor}
    for r in range(warmup + rounds):
        order = ("repository", "floor") if r % 2 == 0 else ("floor", "repository")
        for name in order:
            argument = setup()
            gc.collect()
            cpu_start = time.process_time()
            start = time.perf_counter()
            ops[name](argument)
            elapsed = time.perf_counter() - start
            if r >= warmup:
                samples[name].append(elapsed)
                cpu[name].append(time.process_time() - cpu_start)
    return (
        Timing.of(samples["repository"], 1),
        Timing.of(samples["floor"], 1),
        Timing.of(cpu["repository"], 1),
        Timing.of(cpu["floor"], 1),
    )
