"""A researcher's own data: a CSV or parquet file in long or wide layout, read into a Panel."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from workbench.data.panel import Panel
from workbench.data.readers import _parse_time, read_long_table, read_wide_csv
from workbench.errors import DataFormatError

__all__ = ["read_user_file"]


def read_user_file(
    path: str | Path,
    layout: Literal["long", "wide"] = "long",
    *,
    id_col: str = "unique_id",
    time_col: str | None = "ds",
    target_col: str = "y",
    time_format: str | None = None,
    allow_missing: bool = False,
    freq: str | None = None,
    season_length: int = 1,
    horizon: int | None = None,
    **csv_options: Any,
) -> Panel:
    """Read `path` (.csv, .csv.gz or .parquet). Long: one row per (series, time). Wide: one column
    per series beside `time_col` (None: integer positions)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    meta = {"name": path.stem, "freq": freq, "season_length": season_length, "horizon": horizon}
    key = str(path)
    if layout == "long":
        frame = read_long_table(
            {key: path},
            {"id_col": id_col, "time_col": time_col, "target_col": target_col, "time_format": time_format},
        )
    elif layout == "wide":
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
            if time_col:
                raw[time_col] = _parse_time(raw[time_col], key, time_format)
            return Panel.from_wide(raw, time_col=time_col, source=key, allow_missing=allow_missing, **meta)
        frame = read_wide_csv({key: path}, {"time_col": time_col, "time_format": time_format, **csv_options})
    else:
        raise DataFormatError(f"{path}: layout must be 'long' or 'wide', got {layout!r}")
    return Panel.from_long(frame, source=key, allow_missing=allow_missing, **meta)
