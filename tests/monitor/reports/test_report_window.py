"""The window the daemon hands to the report worker: written as NPZ, read back column for column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.reports.renderer import write_npz
from monitor.reports.report_worker import _read_npz


def test_every_column_round_trips_whatever_its_name(tmp_path: Path) -> None:
    # "file" and "allow_pickle" are also the names of np.savez's own parameters.
    columns = {
        "file": np.array([1.0, 2.0, 3.0]),
        "allow_pickle": np.array([4, 5, 6]),
        "city": np.array(["Oslo", None, "Rome"], dtype=object),
    }
    path = tmp_path / "current.npz"
    write_npz(columns, path)

    frame = _read_npz(path, "current")
    assert list(frame.columns) == ["file", "allow_pickle", "city"]
    assert frame["file"].tolist() == [1.0, 2.0, 3.0]
    assert frame["allow_pickle"].tolist() == [4, 5, 6]
    assert frame["city"].tolist() == ["Oslo", None, "Rome"]
