"""Panel: many time series in one canonical long frame plus the metadata a benchmark needs.

Long format (`unique_id`, `ds`, `y`, optional extra columns), sorted by series then time, is what
pandas, statsforecast and DuckDB read natively; conversions to darts `TimeSeries`, padded numpy
arrays (for vectorised kernels) and Dask frames (one series never split across partitions) live
here so that every model wrapper converts the same way.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import DataFormatError
from workbench.storage import atomic_write

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["MISSING_POLICIES", "REQUIRED", "MissingPolicy", "Panel", "wide_to_long"]

# What a model does with missing values (NaN `y`) in the history it is given. `refuse` names the series
# and stops; the two fills are the peers' conventions, so that a model runs as they ran it:
# - `last_value`: carry the last observation forward; a gap at the start takes the first observation;
#   a series with no observation at all becomes 0 (gluonts' `LastValueImputation`, which fev's seasonal
#   naive and TTM-R2 runs use);
# - `ffill_zero`: carry the last observation forward; a gap at the start becomes 0 (fev's statsforecast
#   runs: `ffill()` per series, then `fillna(0.0)`).
MissingPolicy = Literal["refuse", "last_value", "ffill_zero"]
MISSING_POLICIES: tuple[str, ...] = ("refuse", "last_value", "ffill_zero")

REQUIRED = ("unique_id", "ds", "y")
_META_KEY = b"workbench.panel"


def wide_to_long(df: pd.DataFrame, value_cols: list[str], ds: np.ndarray) -> pd.DataFrame:
    """Stack one-column-per-series data into (unique_id, ds, y); non-numeric cells become NaN so
    that validation, not the stacking, decides whether missing values are allowed.

    Parameters
    ----------
    df
        One row per timestamp, one column per series.
    value_cols
        The series' columns; their names become the ids.
    ds
        The timestamps, one per row of `df`.
    """
    n = len(df)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(value_cols, dtype=object).astype(str), n),
            "ds": np.tile(ds, len(value_cols)),
            "y": np.concatenate([pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in value_cols])
            if value_cols
            else np.array([], dtype=float),
        }
    )


@dataclass(frozen=True)
class Panel:
    """A validated collection of series; build it with `Panel.from_long` or a catalog loader.

    Parameters
    ----------
    df
        The long frame (`unique_id`, `ds`, `y`, extra columns), sorted by series then time.
    freq
        The timestamps' pandas frequency; None for integer steps or unknown.
    season_length
        The seasonal period (1: none).
    horizon
        The default forecast horizon; None: none.
    name
        The data's name, used in messages.
    attrs
        Free metadata carried with the panel (and written by `to_parquet`).
    """

    df: pd.DataFrame
    freq: str | None = None
    season_length: int = 1
    horizon: int | None = None
    name: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    # id layout computed once per Panel (a Panel's frame is never modified in place)
    _layout_cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        *,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        source: str = "",
        allow_missing: bool = False,
        keep_row_order: bool = False,
        **meta: Any,
    ) -> Panel:
        """Validate and normalise a long frame; errors name `source` and the culprit.

        `keep_row_order` keeps each series' rows as given instead of sorting and de-duplicating by
        time: NAB's files repeat and even step back in time (a daylight-saving hour), and its scores
        are defined per row, so reordering would change the benchmark.

        Parameters
        ----------
        df
            A long frame: one row per series and timestamp.
        id_col, time_col, target_col
            The columns holding the series id, the timestamp and the value (renamed `unique_id`, `ds`, `y`).
        source
            Where the frame comes from, for error messages; empty: `name`, else "panel".
        allow_missing
            Keep missing values (NaN) of `y` instead of refusing them.
        keep_row_order
            Keep each series' rows in the given order (no sort by time, no duplicate check).
        **meta
            The panel's metadata: `freq`, `season_length`, `horizon`, `name`, `attrs`.

        Raises
        ------
        DataFormatError
            A column is missing, an id or timestamp is empty, a value is not numeric, a value is missing
            (without `allow_missing`), or a timestamp repeats within a series.
        """
        where = source or meta.get("name") or "panel"
        missing = [c for c in (id_col, time_col, target_col) if c not in df.columns]
        if missing:
            raise DataFormatError(f"{where}: missing column(s) {missing}; found columns {list(df.columns)}")
        out = df.rename(columns={id_col: "unique_id", time_col: "ds", target_col: "y"})
        out = out[["unique_id", "ds", "y"] + [c for c in out.columns if c not in REQUIRED]]
        out["unique_id"] = out["unique_id"].astype(str)
        if out["unique_id"].isna().any():
            raise DataFormatError(f"{where}: rows with an empty unique_id")
        if not pd.api.types.is_numeric_dtype(out["y"]):
            coerced = pd.to_numeric(out["y"], errors="coerce")
            bad = out.loc[coerced.isna() & out["y"].notna()]
            if len(bad):
                row = bad.iloc[0]
                raise DataFormatError(
                    f"{where}: non-numeric y {row['y']!r} in series {row['unique_id']!r} at ds={row['ds']}"
                )
            out["y"] = coerced
        out["y"] = out["y"].astype("float64")
        if out["ds"].isna().any():
            uid = out.loc[out["ds"].isna(), "unique_id"].iloc[0]
            raise DataFormatError(f"{where}: missing or unparseable timestamp in series {uid!r}")
        if not allow_missing and out["y"].isna().any():
            nan_rows = out.loc[out["y"].isna()]
            ids = nan_rows["unique_id"].unique()
            raise DataFormatError(
                f"{where}: {len(nan_rows)} missing value(s) in y, first in series {ids[0]!r} "
                f"at ds={nan_rows['ds'].iloc[0]} ({len(ids)} series affected); "
                "pass allow_missing=True to keep them"
            )
        if keep_row_order:
            out = out.sort_values("unique_id", kind="stable").reset_index(drop=True)
            return cls(df=out, **meta)
        out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        dup = out.duplicated(["unique_id", "ds"])
        if dup.any():
            row = out.loc[dup].iloc[0]
            raise DataFormatError(f"{where}: duplicate timestamp ds={row['ds']} in series {row['unique_id']!r}")
        return cls(df=out, **meta)

    @classmethod
    def from_wide(
        cls,
        df: pd.DataFrame,
        *,
        time_col: str | None = None,
        value_cols: list[str] | None = None,
        source: str = "",
        allow_missing: bool = False,
        **meta: Any,
    ) -> Panel:
        """One column per series (and an optional time column; else integer positions 0..n-1).

        Parameters
        ----------
        df
            One row per timestamp, one column per series.
        time_col
            The timestamp column; None: integer positions 0..n-1.
        value_cols
            The series' columns; None: every column but `time_col`.
        source
            Where the frame comes from, for error messages.
        allow_missing
            Keep missing (and non-numeric) values as NaN instead of refusing them.
        **meta
            The panel's metadata: `freq`, `season_length`, `horizon`, `name`, `attrs`.
        """
        where = source or meta.get("name") or "panel"
        if time_col is not None and time_col not in df.columns:
            raise DataFormatError(f"{where}: missing time column {time_col!r}; found {list(df.columns)}")
        cols = value_cols or [c for c in df.columns if c != time_col]
        absent = [c for c in cols if c not in df.columns]
        if absent:
            raise DataFormatError(f"{where}: missing column(s) {absent}; found {list(df.columns)}")
        ds = df[time_col] if time_col else pd.Series(np.arange(len(df)), index=df.index)
        long = wide_to_long(df, cols, ds.to_numpy())
        return cls.from_long(long, source=source, allow_missing=allow_missing, **meta)

    # ---- facts ---------------------------------------------------------------------------
    @property
    def ids(self) -> np.ndarray:
        return self.df["unique_id"].unique()

    @property
    def n_series(self) -> int:
        return int(self.df["unique_id"].nunique())

    def __len__(self) -> int:
        return len(self.df)

    def lengths(self) -> pd.Series:
        """Number of rows per series, in id order."""
        return self.df.groupby("unique_id", sort=True).size()

    def series(self, uid: str) -> pd.DataFrame:
        """The rows of one series.

        Parameters
        ----------
        uid
            The series' id.
        """
        return self.df.loc[self.df["unique_id"] == uid]

    def fill_missing(self, policy: MissingPolicy) -> Panel:
        """This panel with the missing values of `y` filled by `policy` (`MissingPolicy`); itself when
        there is none or the policy is `refuse` (the model then refuses what it cannot take).

        Parameters
        ----------
        policy
            `refuse`, `last_value` or `ffill_zero` (`MISSING_POLICIES`); another value is a `ValueError`.
        """
        y = self.df["y"]
        if policy == "refuse" or not y.isna().any():
            return self
        if policy not in MISSING_POLICIES:
            raise ValueError(f"missing-value policy {policy!r} is not one of {', '.join(MISSING_POLICIES)}")
        ids = self.df["unique_id"]
        filled = y.groupby(ids, sort=False).ffill()
        if policy == "last_value":  # a leading gap: the first observation
            filled = filled.fillna(filled.groupby(ids, sort=False).bfill())
        return replace(self, df=self.df.assign(y=filled.fillna(0.0)))

    def select(self, ids: list[str] | np.ndarray) -> Panel:
        """The panel of the given series only.

        Parameters
        ----------
        ids
            The series' ids; ids not in the panel are ignored.
        """
        return replace(self, df=self.df.loc[self.df["unique_id"].isin(ids)].reset_index(drop=True))

    def summary(self) -> dict[str, Any]:
        lengths = self.lengths()
        return {
            "name": self.name,
            "n_series": self.n_series,
            "n_rows": len(self),
            "min_length": int(lengths.min()) if len(lengths) else 0,
            "median_length": float(lengths.median()) if len(lengths) else 0.0,
            "max_length": int(lengths.max()) if len(lengths) else 0,
            "missing": int(self.df["y"].isna().sum()),
            "freq": self.freq,
            "season_length": self.season_length,
            "horizon": self.horizon,
        }

    # ---- conversions ---------------------------------------------------------------------
    def layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(ids in order of appearance, lengths, start row of each series, row order or None).

        Factorised once per Panel by hashing (no string sort): every array view of the panel
        (`to_numpy`, `scatter`, the last timestamps) reuses it."""
        if "layout" not in self._layout_cache:
            codes, ids = pd.factorize(self.df["unique_id"].to_numpy(), sort=False)
            ids = np.asarray(ids, dtype=object)
            lengths = np.bincount(codes, minlength=len(ids))
            # rows of a series are contiguous in a validated panel; regroup them if someone split one
            order = np.argsort(codes, kind="stable") if len(codes) > 1 and np.any(np.diff(codes) < 0) else None
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            self._layout_cache["layout"] = (ids, lengths, starts, order)
        return self._layout_cache["layout"]

    def scatter(self, values: np.ndarray, pad: Literal["left", "right"] = "left", fill: float = np.nan) -> np.ndarray:
        """Per-row `values` (aligned with `df`) laid out as a padded (n_series, max_len) array.

        Parameters
        ----------
        values
            One value per row of `df`.
        pad
            `left` aligns the series' ends (the last value in the last column), `right` their starts.
        fill
            The value of the padding cells.
        """
        ids, lengths, starts, order = self.layout()
        values = np.asarray(values, dtype=float)
        if order is not None:
            values = values[order]
        width = int(lengths.max()) if len(lengths) else 0
        out = np.full((len(ids), width), fill, dtype=float)
        pos_in_series = np.arange(len(values)) - np.repeat(starts, lengths)
        rows = np.repeat(np.arange(len(ids)), lengths)
        cols = pos_in_series + (np.repeat(width - lengths, lengths) if pad == "left" else 0)
        out[rows, cols] = values
        return out

    def last_ds(self) -> pd.Series:
        """Each series' last timestamp, indexed by id in order of appearance."""
        ids, lengths, starts, order = self.layout()
        ds = self.df["ds"].to_numpy()
        if order is not None:
            ds = ds[order]
        return pd.Series(ds[starts + lengths - 1], index=pd.Index(ids, name="unique_id"))

    def to_numpy(
        self, pad: Literal["left", "right"] = "left", fill: float = np.nan
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values[n_series, max_len], lengths, ids); left padding aligns the series' ends,
        which is what forecasting kernels need (the last observation sits in the last column).

        Parameters
        ----------
        pad
            `left` aligns the series' ends, `right` their starts.
        fill
            The value of the padding cells.
        """
        ids, lengths, _, _ = self.layout()
        return self.scatter(self.df["y"].to_numpy(), pad, fill), lengths.copy(), ids.copy()

    def to_darts(self) -> list:
        """One darts `TimeSeries` per series (static covariate `unique_id` kept for round trips)."""
        from darts import TimeSeries

        series = []
        for uid, g in self.df.groupby("unique_id", sort=True):
            if pd.api.types.is_datetime64_any_dtype(g["ds"]):
                ts = TimeSeries.from_times_and_values(
                    pd.DatetimeIndex(g["ds"].to_numpy(), freq=self.freq), g["y"].to_numpy()
                )
            else:
                ts = TimeSeries.from_times_and_values(
                    pd.RangeIndex(int(g["ds"].iloc[0]), int(g["ds"].iloc[-1]) + 1), g["y"].to_numpy()
                )
            series.append(ts.with_static_covariates(pd.DataFrame({"unique_id": [uid]})))
        return series

    @classmethod
    def from_darts(cls, series: list, **meta: Any) -> Panel:
        """A panel from darts `TimeSeries` (the first component of each); ids from the static covariate
        `unique_id`, else their position.

        Parameters
        ----------
        series
            The darts series.
        **meta
            The panel's metadata: `freq`, `season_length`, `horizon`, `name`, `attrs`.
        """
        frames = []
        for i, ts in enumerate(series):
            sc = ts.static_covariates
            uid = str(sc["unique_id"].iloc[0]) if sc is not None and "unique_id" in sc else str(i)
            frames.append(pd.DataFrame({"unique_id": uid, "ds": ts.time_index, "y": ts.values()[:, 0]}))
        return cls.from_long(pd.concat(frames, ignore_index=True), **meta)

    def to_dask(self, npartitions: int | None = None, series_per_partition: int = 1000) -> dd.DataFrame:
        """Dask frame indexed by `unique_id`, every series wholly inside one partition.

        The partitions are row ranges of this (sorted) panel, cut at series boundaries with known
        divisions; no sort or shuffle of the whole frame. Data in files never go through a Panel to
        reach Dask: `workbench.sources.open_dataset(name).to_dask()` partitions a user card's files by
        row groups, each read on a worker, and `Panel.dask_from_parquet` does so for a panel's file.

        Parameters
        ----------
        npartitions
            The number of partitions (at most one per series); None: from `series_per_partition`.
        series_per_partition
            Series per partition where `npartitions` is None.
        """
        import dask.dataframe as dd

        df = self.df
        ids = df["unique_id"].to_numpy()
        if len(ids) > 1 and not (ids[1:] >= ids[:-1]).all():
            df = df.sort_values("unique_id", kind="stable").reset_index(drop=True)
            ids = df["unique_id"].to_numpy()
        frame = df.set_index("unique_id")
        if not len(ids):
            return dd.from_pandas(frame, npartitions=1)
        starts = np.concatenate([[0], np.flatnonzero(ids[1:] != ids[:-1]) + 1, [len(ids)]])
        n_series = len(starts) - 1
        n = max(1, min(npartitions or -(-n_series // series_per_partition), n_series))
        cuts = sorted(set(np.linspace(0, n_series, n + 1).round().astype(int).tolist()))
        parts = [frame.iloc[starts[a] : starts[b]] for a, b in itertools.pairwise(cuts)]
        divisions = [ids[starts[a]] for a in cuts[:-1]] + [ids[starts[-1] - 1]]
        return dd.from_map(_identity, parts, divisions=divisions, meta=frame.iloc[:0], enforce_metadata=False)

    @staticmethod
    def dask_from_parquet(path: str | Path) -> dd.DataFrame:
        """A panel's parquet file (`Panel.to_parquet`, a chunk file; local or an fsspec URL) as a Dask
        frame indexed by `unique_id`, without reading its rows here: one partition per run of row
        groups (a series that runs across row groups keeps them together; from the footer's
        statistics), each read where the partition is computed.

        Parameters
        ----------
        path
            A local path or an fsspec URL of a parquet file whose rows are sorted by `unique_id`.
        """
        import dask.dataframe as dd
        import pyarrow.parquet as pq

        from workbench import storage

        url = str(path)
        fs, path = storage.url_fs(url)
        with fs.open(path, "rb") as fh:
            md = pq.ParquetFile(fh).metadata
        schema = md.schema.to_arrow_schema()
        column = schema.names.index("unique_id")
        runs: list[list[int]] = []
        bounds: list[tuple] = []
        for i in range(md.num_row_groups):
            stats = md.row_group(i).column(column).statistics
            lo, hi = (stats.min, stats.max) if stats is not None and stats.has_min_max else (None, None)
            if runs and (lo is None or bounds[-1][1] is None or lo <= bounds[-1][1]):
                runs[-1].append(i)  # a series may run on from the row group before: keep them together
                bounds[-1] = (bounds[-1][0], hi)
            else:
                runs.append([i])
                bounds.append((lo, hi))
        meta = schema.empty_table().to_pandas().set_index("unique_id")
        known = all(lo is not None for lo, _ in bounds) and bounds
        divisions = [lo for lo, _ in bounds] + [bounds[-1][1]] if known else None
        return dd.from_map(
            _read_row_groups, [(url, r) for r in runs], meta=meta, divisions=divisions, enforce_metadata=False
        )

    @staticmethod
    def concat(panels: list[Panel]) -> Panel:
        """Panels of disjoint series (chunks of one dataset) as one, with the first one's metadata.

        Parameters
        ----------
        panels
            Panels of disjoint series; one is returned as it is.
        """
        if len(panels) == 1:
            return panels[0]
        return Panel(df=pd.concat([p.df for p in panels], ignore_index=True), **panels[0].meta())

    # ---- persistence ---------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {
            "freq": self.freq,
            "season_length": self.season_length,
            "horizon": self.horizon,
            "name": self.name,
            "attrs": self.attrs,
        }

    def to_parquet(self, path: Path) -> None:
        """Atomic write (temporary name, then rename) with the metadata in the schema.

        Parameters
        ----------
        path
            The file to write.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.df, preserve_index=False)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(self.meta(), default=str).encode()
        table = table.replace_schema_metadata(schema_meta)
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))

    @classmethod
    def read_parquet(cls, path: Path) -> Panel:
        """A panel written by `to_parquet`, with its metadata.

        Parameters
        ----------
        path
            The parquet file.
        """
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        raw = (table.schema.metadata or {}).get(_META_KEY)
        meta = json.loads(raw) if raw else {}
        return cls(df=table.to_pandas(), **meta)


def _identity(part: pd.DataFrame) -> pd.DataFrame:
    return part


def _read_row_groups(item: tuple[str, list[int]]) -> pd.DataFrame:
    """One partition of `Panel.dask_from_parquet`: a run of row groups, read where it is computed."""
    import pyarrow.parquet as pq

    from workbench import storage

    url, row_groups = item
    fs, path = storage.url_fs(url)
    with fs.open(path, "rb") as fh:
        return pq.ParquetFile(fh).read_row_groups(row_groups).to_pandas().set_index("unique_id")
