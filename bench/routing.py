"""Route matching speed with 1,000 routes: `python bench/routing.py`.

Builds a table like a large app's -- 400 static paths, 580 patterns spread
over 40 first segments, 20 patterns starting with a field (tried for every
request) -- and times `Router.match` on static hits, pattern hits and misses,
next to a naive first-to-last scan of the same routes for comparison.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from asgiws.app.routing import Route, Router


async def endpoint(request: Any) -> str:
    return ""


def build_routes() -> list[Route]:
    routes = [Route(f"/section{k}/page{j}", endpoint) for k in range(40) for j in range(10)]
    for k in range(40):
        routes += [
            Route(f"/api{k}/items/{{id:int}}", endpoint),
            Route(f"/api{k}/items/{{id:int}}/notes/{{note:int}}", endpoint, methods=["GET", "POST"]),
            Route(f"/api{k}/users/{{name}}", endpoint),
            Route(f"/api{k}/users/{{name}}/posts/{{post:d}}", endpoint),
            Route(f"/api{k}/files/{{rest:path}}", endpoint),
            Route(f"/api{k}/tags/{{tag}}", endpoint),
            Route(f"/api{k}/tags/{{tag}}/count", endpoint),
            Route(f"/api{k}/orders/{{order:uuid}}", endpoint),
            Route(f"/api{k}/orders/{{order:uuid}}/lines/{{line:int}}", endpoint),
            Route(f"/api{k}/price/{{amount:float}}", endpoint),
            Route(f"/api{k}/search/{{term}}", endpoint),
            Route(f"/api{k}/v{{major:d}}/status", endpoint),
            Route(f"/api{k}/a/{{x}}/b/{{y}}", endpoint),
            Route(f"/api{k}/c/{{x}}", endpoint),
        ] + [Route(f"/api{k}/misc{j}/{{x}}", endpoint) for j in range(int(k < 20))]
    routes += [Route(f"/{{lang}}/wild{j}", endpoint) for j in range(20)]
    assert len(routes) == 1000, len(routes)
    return routes


def scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": ""}


def measure(match: Callable[[dict[str, Any]], Any], scopes: list[dict[str, Any]], seconds: float = 0.5) -> float:
    """Matches per second, best of 3 runs."""
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for s in scopes:
                match(s)
            count += len(scopes)
        best = max(best, count / elapsed)
    return best


def main() -> None:
    random.seed(1)
    routes = build_routes()
    router = Router(routes)

    def naive(s: dict[str, Any]) -> Any:
        for route in routes:
            if route.match(s["path"]) is not None:
                return route
        return None

    workloads = {
        "static hit": [scope(f"/section{random.randrange(40)}/page{random.randrange(10)}") for _ in range(200)],
        "pattern hit": [
            scope(
                random.choice(
                    [
                        f"/api{k}/items/{k * 7}",
                        f"/api{k}/users/bob/posts/{k}",
                        f"/api{k}/files/a/b/c.txt",
                        f"/api{k}/v2/status",
                    ]
                )
            )
            for k in (random.randrange(40) for _ in range(200))
        ],
        "miss (404)": [scope(f"/api{random.randrange(40)}/nothing/here") for _ in range(200)],
    }
    for name, scopes in workloads.items():
        for s in scopes:  # the index agrees with the naive scan
            route, _, _ = router.match(s)
            assert route is naive(s), s["path"]
        indexed = measure(router.match, scopes)
        linear = measure(naive, scopes, seconds=0.2)
        print(f"{name:12s}  indexed {indexed:>10,.0f} matches/s   naive scan {linear:>8,.0f} matches/s")


if __name__ == "__main__":
    main()
