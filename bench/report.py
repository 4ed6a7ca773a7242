"""Turn benchmark results into bench/RESULTS.md and the goals chart bench/ratios.png.

Every figure is shown next to its ratio to the scenario's reference row
(asgiws, or the raw ASGI app in `http-app-route`) from the same run: an
absolute figure from this noisy, shared machine means little on its own.
"""

from __future__ import annotations

import math
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from goals import GOALS, Goal
from scenarios import SATURATED, Scenario

PACKAGES = ("asgiws", "uvicorn", "granian", "aiohttp", "starlette", "websockets", "uvloop", "httptools", "picows")

Rows = list[tuple[Scenario, dict[str, dict]]]
Failures = dict[tuple[str, str], str]


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


def reference(scenario: Scenario, results: dict[str, dict]) -> str | None:
    """The row the scenario's ratios divide by: its `reference` when measured, else the first measured row."""
    if results.get(scenario.reference, {}).get("value") is not None:
        return scenario.reference
    return next((label for label, result in results.items() if result.get("value") is not None), None)


def number(value: object, digits: int = 0) -> str:
    """The value formatted, or a dash for anything missing (None, NaN, an empty result)."""
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def divided(result: dict, base: dict, key: str) -> str:
    try:
        return f"{result[key] / base[key]:.2f}x"
    except (KeyError, TypeError, ZeroDivisionError):
        return "—"


def cpu_cell(result: dict | None, key: str) -> str:
    if not result or key not in result:
        return "—"
    cell = f"{result[key]:.0f}%"
    if key == "client_cpu" and result[key] >= SATURATED:
        cell += " ⚠"
    return cell


def row_notes(scenario: Scenario, label: str, result: dict, failures: Failures) -> str:
    notes = list(result.get("notes", []))
    if (scenario.name, label) in failures and result.get("value") is None:
        notes.append(f"failed: {failures[(scenario.name, label)]}")
    return "; ".join(notes).replace("|", "/")


def table(rows: Rows, failures: Failures | None = None) -> list[str]:
    """The throughput table, then (if any) the memory table, as Markdown lines."""
    failures = failures or {}
    load = [(s, r) for s, r in rows if s.kind != "rss"]
    memory = [(s, r) for s, r in rows if s.kind == "rss"]
    lines: list[str] = []
    if load:
        lines += throughput_table(load, failures)
    if memory:
        lines += ([""] if lines else []) + memory_table(memory, failures)
    return lines


def throughput_table(rows: Rows, failures: Failures) -> list[str]:
    lines = [
        "| scenario | server | rate | rate ÷ reference | server CPU µs/op | CPU/op ÷ reference | p99 ms "
        "| server CPU | load-gen CPU | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario, results in rows:
        ref = reference(scenario, results)
        base = results.get(ref or "", {})
        for position, (label, result) in enumerate(results.items()):
            digits = 1 if result.get("value", 1000) < 100 else 0
            head = f"{scenario.title} (`{scenario.name}`)" if position == 0 else ""
            name = f"**{label}**" if label == ref else label
            lines.append(
                f"| {head} | {name} | {number(result.get('value'), digits)} {scenario.unit if result else ''} "
                f"| {divided(result, base, 'value')} | {number(result.get('server_us_per_op'), 1)} "
                f"| {divided(result, base, 'server_us_per_op')} | {number(result.get('p99_ms'), 2)} "
                f"| {cpu_cell(result, 'server_cpu')} | {cpu_cell(result, 'client_cpu')} "
                f"| {row_notes(scenario, label, result, failures)} |"
            )
    return lines


def memory_table(rows: Rows, failures: Failures) -> list[str]:
    lines = [
        "| scenario | server | KiB/conn | ÷ reference (lower is better) | connections | RSS before → after, MiB "
        "| notes |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for scenario, results in rows:
        ref = reference(scenario, results)
        base = results.get(ref or "", {})
        for position, (label, result) in enumerate(results.items()):
            head = f"{scenario.title} (`{scenario.name}`)" if position == 0 else ""
            name = f"**{label}**" if label == ref else label
            lines.append(
                f"| {head} | {name} | {number(result.get('value'), 1)} | {divided(result, base, 'value')} "
                f"| {number(result.get('connections'))} | {rss_span(result)} "
                f"| {row_notes(scenario, label, result, failures)} |"
            )
    return lines


def rss_span(result: dict) -> str:
    if "rss_before_kib" not in result:
        return "—"
    return f"{result['rss_before_kib'] / 1024:.1f} → {result['rss_after_kib'] / 1024:.1f}"


def judged(rows: Rows) -> list[tuple[Goal, float, bool | None]]:
    """Each goal whose scenario ran, with its measured figure and whether it is met (None: not measured)."""
    by_name = {scenario.name: results for scenario, results in rows}
    found = []
    for goal in GOALS:
        if goal.scenario in by_name:
            value = goal.measure(by_name[goal.scenario])
            found.append((goal, value, goal.met(value)))
    return found


def goals_table(rows: Rows) -> list[str]:
    found = judged(rows)
    if not found:
        return []
    lines = ["| goal | from | measured | met |", "|---|---|---:|---|"]
    for goal, value, met in found:
        unit = " KiB" if goal.metric == "value" else "x"
        mark = "—" if met is None else ("✓ met" if met else "✗ not met")
        lines.append(f"| {goal.describe()} | {goal.source} | {number(value, 2)}{unit if not math.isnan(value) else ''} "
                     f"| {mark} |")
    return lines


def notes(rows: Rows) -> list[str]:
    found = []
    for scenario, results in rows:
        for label, result in results.items():
            if result and result.get("client_cpu", 0) >= SATURATED:
                found.append(
                    f"- `{scenario.name}` on {label}: the load generator used {result['client_cpu']:.0f}% of its "
                    f"core, so this figure is a floor (the client, not the server, may have been the limit)."
                )
    return found


def write_markdown(path: Path, rows: Rows, failures: Failures, settings: dict[str, str]) -> None:
    facts = machine()
    lines = [
        "# asgiws against other servers: benchmark results",
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
        "## Goals",
        "",
        "Each goal is a ratio between two rows of one scenario in this run (or, for memory, a bound on asgiws's "
        "KiB per connection).",
        "",
        *goals_table(rows),
        "",
        "![goals](ratios.png)",
        "",
        "## Results",
        "",
        "Median of the repeats. Each figure is followed by its ratio to the scenario's reference row (in bold). "
        "CPU is % of one core over the measured window; ⚠ marks a load generator at or above "
        f"{SATURATED:.0f}% of its core, whose figure is then a floor. Server CPU µs/op is the server's "
        "CPU time (user + system, so including the kernel's TCP work; every process and thread of the server) "
        "per message or request: lower is better, and it is steadier than the rate when the machine is busy. "
        "The picows echo (Cython, no ASGI) is about the least a Python server can spend, and the rate the load "
        "generator reaches against it is its ceiling.",
        "",
        *table(rows, failures),
        "",
    ]
    found = notes(rows)
    if found:
        lines += ["## Notes", "", *found, ""]
    path.write_text("\n".join(lines) + appended_sections(path))


#: Starts a section another benchmark appends to RESULTS.md (bench/fanout.py): kept when this one rewrites it.
APPENDED_MARKER = "<!-- appended by bench/"


def appended_sections(path: Path) -> str:
    """The sections other benchmarks appended to `path`, from the first marker on ("" if none)."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    start = text.find(APPENDED_MARKER)
    return "" if start < 0 else "\n" + text[start:]


def plot(path: Path, rows: Rows) -> None:
    """A bar per goal: how far it is met, as measured ÷ bound (≥ goals) or bound ÷ measured (≤ goals).

    Either way 1 is the goal: a bar past the line is met (green), short of it not (red).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = [(goal, value, met) for goal, value, met in judged(rows) if met is not None]
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(found) + 1.8))
    largest = 1.0
    for position, (goal, value, met) in enumerate(found):
        score = value / goal.bound if goal.sign == ">=" else goal.bound / value
        axes.barh(position, score, height=0.6, color="tab:green" if met else "tab:red")
        unit = " KiB" if goal.metric == "value" else "x"
        axes.text(score, position, f" {value:.2f}{unit}", va="center", fontsize=8)
        largest = max(largest, score)
    axes.axvline(1.0, color="black", linewidth=1.5)
    axes.set_yticks(range(len(found)), [goal.describe().replace("`", "") for goal, _, _ in found], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, largest * 1.25)
    axes.set_xlabel("how far each goal is met (1 = exactly; the figure measured is at the bar's end)")
    axes.set_title("asgiws's goals, each a ratio within one run")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
