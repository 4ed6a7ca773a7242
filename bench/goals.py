"""The benchmark's goals, each a ratio between two rows of one scenario measured in the same run.

A goal never compares against a figure from another run or machine: it
divides one row's figure by another's from the same interleaved run (or,
for memory, bounds one row's KiB per connection). Three metrics:

- ``rate``: row's rate ÷ other's (messages or requests per second);
- ``cpu``: row's server CPU µs per operation ÷ other's (lower is cheaper);
- ``efficiency``: other's µs per operation ÷ row's ("Nx less CPU per message");
- ``value``: the row's own figure (KiB per connection), for the RSS rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    scenario: str
    metric: str  # "rate", "cpu", "efficiency" or "value"
    row: str
    other: str | None
    sign: str  # ">=" or "<="
    bound: float
    source: str

    def describe(self) -> str:
        what = {
            "rate": f"{self.row} rate ÷ {self.other}'s",
            "cpu": f"{self.row} server CPU/op ÷ {self.other}'s",
            "efficiency": f"{self.other} server CPU/op ÷ {self.row}'s",
            "value": f"{self.row} KiB per connection",
        }[self.metric]
        unit = " KiB" if self.metric == "value" else "x"
        return f"`{self.scenario}`: {what} {self.sign} {self.bound:g}{unit}"

    def measure(self, results: dict[str, dict]) -> float:
        """The goal's figure from one scenario's results by row label; NaN when a row is missing."""
        row = results.get(self.row) or {}
        other = results.get(self.other or "") or {}
        try:
            if self.metric == "value":
                return float(row["value"])
            if self.metric == "rate":
                return row["value"] / other["value"]
            if self.metric == "cpu":
                return row["server_us_per_op"] / other["server_us_per_op"]
            return other["server_us_per_op"] / row["server_us_per_op"]
        except (KeyError, TypeError, ZeroDivisionError):
            return math.nan

    def met(self, value: float) -> bool | None:
        if math.isnan(value):
            return None
        return value >= self.bound if self.sign == ">=" else value <= self.bound


ISSUE = "issue 12"
GOALS = [
    Goal("ws-32b-100", "cpu", "asgiws", "aiohttp", "<=", 1.0, f"{ISSUE} goal 2"),
    Goal("ws-32b-100", "cpu", "asgiws", "picows-echo", "<=", 1.15, f"{ISSUE} goal 2 (aim)"),
    Goal("ws-16k-stream", "cpu", "asgiws", "picows-echo", "<=", 1.0, f"{ISSUE} goal 3"),
    Goal("http-hello", "cpu", "asgiws", "granian", "<=", 1.0, f"{ISSUE} goal 4"),
    Goal("http-hello", "rate", "asgiws", "uvicorn", ">=", 1.5, f"{ISSUE} goal 4"),
    Goal("ws-deflate-1k-100", "efficiency", "asgiws", "uvicorn", ">=", 1.5, f"{ISSUE} goal 5"),
    Goal("http-app-route", "cpu", "App", "raw ASGI", "<=", 1.2, f"{ISSUE} goal 6"),
    Goal("http-app-route", "cpu", "App", "Starlette", "<=", 0.6, f"{ISSUE} goal 6"),
    Goal("ws-32b-1", "rate", "asgiws", "uvicorn", ">=", 1.5, "earlier"),
    Goal("ws-32b-100", "rate", "asgiws", "uvicorn", ">=", 1.5, "earlier"),
    Goal("ws-16k-stream", "rate", "asgiws", "uvicorn", ">=", 1.5, "earlier"),
    Goal("rss-idle", "value", "asgiws", None, "<=", 8.4, f"{ISSUE} keep (7.6 KiB + 10 %)"),
    Goal("rss-idle-deflate", "value", "asgiws", None, "<=", 8.8, f"{ISSUE} keep (8.0 KiB + 10 %)"),
    Goal("rss-used", "value", "asgiws", None, "<=", 12.0, "earlier"),
    Goal("rss-used-deflate", "value", "asgiws", None, "<=", 45.0, "earlier"),
]
