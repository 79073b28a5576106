"""Timing, tables and results: medians of interleaved rounds, so noise hits both sides alike."""

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    name: str
    ours: float  # operations per second (or the unit named in `unit`)
    baseline: float | None
    goal: float  # minimal ratio ours/baseline, or an absolute floor when baseline is None
    unit: str = "ops/s"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.ours / self.baseline

    @property
    def passed(self) -> bool:
        value = self.ratio if self.baseline else self.ours
        return value is not None and value >= self.goal


def rate(operation: Callable[[int], None], count: int) -> float:
    """Operations per second of ``operation(i)`` over ``count`` calls."""
    start = time.perf_counter()
    for i in range(count):
        operation(i)
    return count / (time.perf_counter() - start)


def compare(
    ours: Callable[[int], None],
    baseline: Callable[[int], None],
    count: int,
    rounds: int,
) -> tuple[float, float]:
    """Median rates of ``ours`` and ``baseline``, measured in alternating rounds."""
    ours_rates, base_rates = [], []
    for _ in range(rounds):
        base_rates.append(rate(baseline, count))
        ours_rates.append(rate(ours, count))
    return statistics.median(ours_rates), statistics.median(base_rates)


def report(figures: list[Figure], results_path: Path | None) -> bool:
    table = Table(title="trustee benchmarks (ratios against a baseline in the same run)")
    for column in ("figure", "ours", "baseline", "ratio", "goal", "result"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for figure in figures:
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
        goal = f">= {figure.goal}x" if figure.baseline else f">= {figure.goal:g} {figure.unit}"
        table.add_row(
            figure.name,
            f"{figure.ours:,.0f} {figure.unit}",
            f"{figure.baseline:,.0f}" if figure.baseline else "-",
            ratio,
            goal,
            "[green]pass[/]" if figure.passed else "[red]FAIL[/]",
        )
    Console().print(table)
    if results_path is not None:
        payload = [asdict(f) | {"ratio": f.ratio, "passed": f.passed} for f in figures]
        results_path.write_text(json.dumps(payload, indent=2) + "\n")
    return all(figure.passed for figure in figures)
