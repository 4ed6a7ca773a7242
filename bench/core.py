"""Micro-benchmark of the sans-I/O core, in one command: `python bench/core.py [SECONDS]`.

Prints frame parse+unmask throughput through a server-side connection for
32 B, 16 KiB and 1 MiB messages, apply_mask on 1 MiB against
`websockets.speedups.apply_mask` in the same run (with the ratio), and the
HTTP request parse rate for a typical browser GET (httptools as reference).
"""

import sys

from core_frames import bench_frames
from core_http import bench_http_parse, bench_http_response


def main(seconds: float) -> None:
    frames = bench_frames(seconds)
    for size in ("32B", "16KiB", "1MiB"):
        figures = frames[f"parse_{size}"]
        line = (
            f"frame parse+unmask {size:>6}: {figures['MB_per_s']:>10,.0f} MB/s "
            f"({figures['us_per_message']:.2f} µs/msg)"
        )
        if "websockets_MB_per_s" in figures:
            line += f"   (websockets.Protocol {figures['websockets_MB_per_s']:,.0f} MB/s)"
        print(line)
    mask = frames["apply_mask_1MiB"]
    line = f"apply_mask 1 MiB: ours {mask['ours_MB_per_s']:,.0f} MB/s"
    if "websockets_MB_per_s" in mask:
        line += f", websockets.speedups {mask['websockets_MB_per_s']:,.0f} MB/s, ratio {mask['ratio']:.2f}"
    print(line)
    parse = max(bench_http_parse(seconds / 3) for _ in range(3))
    frame = max(bench_http_response(seconds / 3) for _ in range(3))
    print(f"HTTP parse, browser GET: {parse:,.0f} requests/s ({1e6 / parse:.2f} µs each)")
    print(f"HTTP frame, 200 response: {frame:,.0f} responses/s ({1e6 / frame:.2f} µs each)")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
