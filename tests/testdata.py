"""Access to the shared real-face test data (faces and camera frame sequences).

The files live outside the repository, in ``shared/testdata`` next to the checkout (see its README);
they are never copied in. Set ``SUISHEN_TESTDATA`` to use another location. Tests that need them are
marked ``@needs_testdata`` and are skipped, with the reason, when the folder is absent.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

TESTDATA = Path(
    os.environ.get("SUISHEN_TESTDATA") or Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
)
SEQUENCES = TESTDATA / "sequences"
FACES = TESTDATA / "faces"

HAVE_TESTDATA = (SEQUENCES / "fixtures.json").is_file() and FACES.is_dir()

needs_testdata = pytest.mark.skipif(
    not HAVE_TESTDATA,
    reason=(
        f"real face test data not found at {TESTDATA} (expected sequences/fixtures.json and faces/); "
        "set SUISHEN_TESTDATA to the shared/testdata folder"
    ),
)


@functools.cache
def fixtures() -> dict:
    """The whole ``sequences/fixtures.json``: per sequence its eyelid levels, fps, colours..."""
    return json.loads((SEQUENCES / "fixtures.json").read_text(encoding="utf-8"))


def fixture(name: str) -> dict:
    """The ``fixtures.json`` entry of one sequence, e.g. ``fixture("genuine_blink_obama")["levels"]``."""
    return fixtures()[name]


def sequence_names() -> list[str]:
    """Every sequence that has JPEG frames, e.g. ``genuine_blink_meds_s001``."""
    return sorted(p.name.removeprefix("frames_") for p in SEQUENCES.glob("frames_*") if p.is_dir())


def load_sequence(name: str) -> list[bytes]:
    """The JPEG frames (640x480) of ``sequences/frames_<name>/``, in order."""
    folder = SEQUENCES / f"frames_{name}"
    paths = sorted(folder.glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no frames in {folder}")
    return [path.read_bytes() for path in paths]


def face(name: str) -> bytes:
    """The bytes of ``faces/<name>`` (``.jpg`` is added when the name has no suffix)."""
    path = FACES / name
    if not path.suffix:
        path = path.with_suffix(".jpg")
    return path.read_bytes()
