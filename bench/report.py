"""Turn benchmark results into bench/RESULTS.md and the ratio bar plot bench/ratios.png."""

from __future__ import annotations

import math
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from scenarios import SATURATED, Scenario
from servers import CEILING

PACKAGES = ("asgiws", "uvicorn", "websockets", "uvloop", "httptools", "picows")


def command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict[str, str]:
    """CPU model, cores, Python and the versions of everything that runs in the benchmark."""
    model = next(
        (line.split(":", 1)[1].strip() for line in command_output(["lscpu"]).splitlines()
         if line.startswith("Model name")),
        platform.processor() or "unknown",
    )
    facts = {
        "CPU": model,
        "cores": command_output(["nproc"]).strip(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
    }
    for package in PACKAGES:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    commit = command_output(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"]).strip()
    if commit:
        facts["asgiws"] += f" (commit {commit})"
    try:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol
        from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

        facts["uvicorn protocols (auto)"] = f"{AutoHTTPProtocol.__name__}, {AutoWebSocketsProtocol.__name__}"
    except ImportError:
        pass
    wrk = command_output(["wrk", "-v"]).strip().splitlines()
    facts["wrk"] = wrk[0] if wrk else "unknown"
    return facts


def ratio(scenario: Scenario, results: dict[str, dict], candidate: str, baseline: str) -> float:
    """candidate / baseline of the scenario's figure (for RSS: lower is better)."""
    try:
        return results[candidate]["value"] / results[baseline]["value"]
    except (KeyError, TypeError, ZeroDivisionError):
        return math.nan


def goal_as_ratio(scenario: Scenario, results: dict[str, dict], baseline: str) -> float | None:
    """Where the goal sits on the ratio axis (a KiB bound is divided by the baseline's figure)."""
    found = re.fullmatch(r"(>=|<=) ([\d.]+) ?(x|KiB)", scenario.goal)
    if not found:
        return None
    bound = float(found.group(2))
    if found.group(3) == "x":
        return bound
    base = results.get(baseline, {}).get("value")
    return bound / base if base else None


def goal_met(scenario: Scenario, results: dict[str, dict], candidate: str, baseline: str) -> str:
    """The goal with a check mark: ``>= 1.5x`` is about the ratio, ``<= 12 KiB`` about the candidate's figure."""
    found = re.fullmatch(r"(>=|<=) ([\d.]+) ?(x|KiB)", scenario.goal)
    if not found:
        return scenario.goal or "—"
    sign, bound, unit = found.group(1), float(found.group(2)), found.group(3)
    value = ratio(scenario, results, candidate, baseline) if unit == "x" else results.get(candidate, {}).get("value")
    if value is None or math.isnan(value):
        return scenario.goal
    met = value >= bound if sign == ">=" else value <= bound
    return f"{scenario.goal} {'✓' if met else '✗'}"


def number(value: object, digits: int = 0) -> str:
    """The value formatted, or a dash for anything missing (None, NaN, an empty result)."""
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def cpu_cell(result: dict | None, key: str) -> str:
    if not result or key not in result:
        return "—"
    cell = f"{result[key]:.0f}%"
    if key == "client_cpu" and result[key] >= SATURATED:
        cell += " ⚠"
    return cell


def ratio_cell(value: float) -> str:
    return "—" if math.isnan(value) else f"**{value:.2f}x**"


def efficiency(base: dict | None, cand: dict | None) -> float | None:
    """Baseline CPU per op / candidate CPU per op: how much less CPU the candidate spends per message."""
    try:
        return base["server_us_per_op"] / cand["server_us_per_op"]
    except (TypeError, KeyError, ZeroDivisionError):
        return None


def ceiling_cell(result: dict | None) -> str:
    if not result or "value" not in result:
        return "—"
    return f"{result['value']:,.0f} ({result['client_cpu']:.0f}%; {result['server_us_per_op']:.1f} µs/op)"


def table(rows: list[tuple[Scenario, dict[str, dict]]], candidate: str, baseline: str) -> list[str]:
    """The throughput table, then (if any) the memory table, as Markdown lines."""
    load = [(s, r) for s, r in rows if s.kind != "rss"]
    memory = [(s, r) for s, r in rows if s.kind == "rss"]
    lines: list[str] = []
    if load:
        lines += throughput_table(load, candidate, baseline)
    if memory:
        lines += ([""] if lines else []) + memory_table(memory, candidate, baseline)
    return lines


def throughput_table(rows: list[tuple[Scenario, dict[str, dict]]], candidate: str, baseline: str) -> list[str]:
    lines = [
        f"| scenario | unit | {baseline} | {candidate} | ratio {candidate}/{baseline} | goal "
        f"| p99 ms {baseline} / {candidate} | server CPU {baseline} / {candidate} "
        f"| server CPU µs/op {baseline} / {candidate} | CPU efficiency "
        f"| load-gen CPU {baseline} / {candidate} | load-gen ceiling (its CPU; echo server µs/op) |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, results in rows:
        base, cand = results.get(baseline) or {}, results.get(candidate) or {}
        digits = 1 if base.get("value", 1000) < 100 else 0
        cpu = efficiency(base, cand)
        lines.append(
            f"| {scenario.title} (`{scenario.name}`) | {scenario.unit} "
            f"| {number(base.get('value'), digits)} | {number(cand.get('value'), digits)} "
            f"| {ratio_cell(ratio(scenario, results, candidate, baseline))} "
            f"| {goal_met(scenario, results, candidate, baseline)} "
            f"| {number(base.get('p99_ms'), 2)} / {number(cand.get('p99_ms'), 2)} "
            f"| {cpu_cell(base, 'server_cpu')} / {cpu_cell(cand, 'server_cpu')} "
            f"| {number(base.get('server_us_per_op'), 1)} / {number(cand.get('server_us_per_op'), 1)} "
            f"| {f'{cpu:.2f}x' if cpu else '—'} "
            f"| {cpu_cell(base, 'client_cpu')} / {cpu_cell(cand, 'client_cpu')} "
            f"| {ceiling_cell(results.get(CEILING))} |"
        )
    return lines


def memory_table(rows: list[tuple[Scenario, dict[str, dict]]], candidate: str, baseline: str) -> list[str]:
    lines = [
        f"| scenario | {baseline} KiB/conn | {candidate} KiB/conn | ratio {candidate}/{baseline} (lower is better) "
        f"| goal | connections | RSS before → after, MiB: {baseline} / {candidate} |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for scenario, results in rows:
        base, cand = results.get(baseline) or {}, results.get(candidate) or {}
        lines.append(
            f"| {scenario.title} (`{scenario.name}`) | {number(base.get('value'), 1)} | {number(cand.get('value'), 1)} "
            f"| {ratio_cell(ratio(scenario, results, candidate, baseline))} "
            f"| {goal_met(scenario, results, candidate, baseline)} "
            f"| {number(cand.get('connections') or base.get('connections'))} "
            f"| {rss_span(base)} / {rss_span(cand)} |"
        )
    return lines


def rss_span(result: dict) -> str:
    if "rss_before_kib" not in result:
        return "—"
    return f"{result['rss_before_kib'] / 1024:.1f} → {result['rss_after_kib'] / 1024:.1f}"


def notes(rows: list[tuple[Scenario, dict[str, dict]]]) -> list[str]:
    found = []
    for scenario, results in rows:
        for label, result in results.items():
            if label == CEILING:
                continue
            for note in (result or {}).get("notes", []):
                found.append(f"- `{scenario.name}` on {label}: {note}")
            if result and result.get("client_cpu", 0) >= SATURATED:
                found.append(
                    f"- `{scenario.name}` on {label}: the load generator used {result['client_cpu']:.0f}% of its "
                    f"core, so this figure is a floor (the client, not the server, may have been the limit)."
                )
    return found


def write_markdown(path: Path, rows: list[tuple[Scenario, dict[str, dict]]], candidate: str, baseline: str,
                   settings: dict[str, str]) -> None:
    facts = machine()
    lines = [
        "# asgiws vs uvicorn: benchmark results",
        "",
        f"Generated by `{settings['command']}` on {datetime.now(UTC):%Y-%m-%d %H:%M UTC}. "
        "See [README.md](README.md) for what each scenario measures and how.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
        "## Method",
        "",
        *(f"- {key}: {value}" for key, value in settings.items() if key != "command"),
        "",
        "## Results",
        "",
        "Median of the repeats. Ratio = candidate / baseline (higher is better, except RSS). "
        "CPU is % of one core over the measured window; ⚠ marks a load generator at or above "
        f"{SATURATED:.0f}% of its core, whose figure is then a floor. Server CPU µs/op is the server's "
        "CPU time (user + system, so including the kernel's TCP work) per message or request: "
        "lower is better, and it is steadier than the rate when the machine is busy. CPU efficiency = "
        f"{baseline} µs/op ÷ {candidate} µs/op (higher is better). The load-generator ceiling is the rate "
        "the same client reaches against a picows echo server (Cython, no ASGI) on the server core, with the "
        "client's CPU and that echo server's CPU per message: about the least a Python server can spend.",
        "",
        *table(rows, candidate, baseline),
        "",
        "![ratios](ratios.png)",
        "",
    ]
    found = notes(rows)
    if found:
        lines += ["## Notes", "", *found, ""]
    path.write_text("\n".join(lines))


def plot(path: Path, rows: list[tuple[Scenario, dict[str, dict]]], candidate: str, baseline: str) -> None:
    """A bar per scenario: candidate/baseline, its goal as a tick, and (thin) the CPU-efficiency ratio.

    Green: goal met; orange: better than the baseline, short of the goal;
    red: short of the goal and worse than the baseline; blue: no goal set.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, axes = plt.subplots(figsize=(9, 0.75 * len(rows) + 2.2))
    largest = 1.0
    for position, (scenario, results) in enumerate(rows):
        value = ratio(scenario, results, candidate, baseline)
        value = 0.0 if math.isnan(value) else value
        goal = goal_as_ratio(scenario, results, baseline)
        better = value >= 1 if scenario.higher_is_better else value <= 1
        if goal is None:
            color = "tab:blue"
        elif goal_met(scenario, results, candidate, baseline).endswith("✓"):
            color = "tab:green"
        else:
            color = "tab:orange" if better else "tab:red"
        axes.barh(position - 0.12, value, height=0.5, color=color)
        axes.text(value, position - 0.12, f" {value:.2f}x", va="center", fontsize=9)
        cpu = efficiency(results.get(baseline), results.get(candidate))
        if cpu:
            axes.barh(position + 0.26, cpu, height=0.18, color="tab:gray")
            axes.text(cpu, position + 0.26, f" {cpu:.2f}x", va="center", fontsize=7, color="dimgray")
        if goal is not None:
            axes.plot([goal, goal], [position - 0.42, position + 0.18], color="black", linewidth=2)
        largest = max(largest, value, cpu or 0, goal or 0)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_yticks(
        range(len(rows)),
        [f"{s.name}\n({'higher' if s.higher_is_better else 'lower'} is better)" for s, _ in rows],
        fontsize=8,
    )
    axes.invert_yaxis()
    axes.set_xlim(0, largest * 1.2)
    axes.set_xlabel(f"{candidate} / {baseline}")
    axes.set_title(f"{candidate} relative to {baseline} (same app, each server on 1 core)")
    axes.legend(
        handles=[
            Patch(color="tab:green", label="goal met"),
            Patch(color="tab:orange", label="better, short of goal"),
            Patch(color="tab:red", label="worse"),
            Patch(color="tab:blue", label="no goal"),
            Patch(color="tab:gray", label=f"CPU efficiency ({baseline} µs/op ÷ {candidate} µs/op)"),
            Line2D([], [], color="black", linewidth=2, label="goal"),
        ],
        loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=3, fontsize=7, frameon=False,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
