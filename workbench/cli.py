"""`workbench` command line: the catalog today; evaluation, sweeps and reports build on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workbench import __version__
from workbench.cli_models import models_app
from workbench.errors import WorkbenchError

__all__ = [
    "CatalogOption",
    "app",
    "datasets_add",
    "datasets_app",
    "datasets_fetch",
    "datasets_info",
    "datasets_list",
    "datasets_summary",
    "datasets_verify",
    "present_paper",
    "report",
    "reproduce_paper",
    "results_app",
    "results_gc",
    "results_import",
    "results_leaderboard",
    "results_sql",
    "results_verify",
    "run_grid",
    "sweep_notebooks",
    "version",
]

app = typer.Typer(help="Time-series research workbench.", no_args_is_help=True, add_completion=False)
datasets_app = typer.Typer(help="The dataset catalog: list, inspect, fetch, verify.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
results_app = typer.Typer(help="The results store: SQL, leaderboards, verify, gc.", no_args_is_help=True)
app.add_typer(results_app, name="results")
app.add_typer(models_app, name="models")
# piped output (CI logs, `| less`) gets a wide table rather than 80 folded columns
console = Console(width=None if sys.stdout.isatty() else 140)


def _fail(exc: Exception) -> None:
    from rich.markup import escape

    # an error's own brackets are text, not markup; its lines are not broken (paths and names stay whole)
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(code=2)


def _checked_store(value: str | None) -> str | None:
    """The callback of every `--store` option: a local store that is a file (or lies below one) is
    refused before the command reads, computes or writes anything, with the same message everywhere
    (`results_root`); a URL or a folder, new or existing, passes as given."""
    if value:
        from workbench.store.results_store import results_root

        try:
            results_root(value)
        except WorkbenchError as exc:
            _fail(exc)
    return value


def _store_root(value: str | None) -> Path | str:
    """`results_root(value)` for a command's own use, refused like `_checked_store` (a store from
    WORKBENCH_RESULTS or ./results is checked here, since the option's callback sees only --store)."""
    from workbench.store.results_store import results_root

    try:
        return results_root(value)
    except WorkbenchError as exc:
        _fail(exc)


@app.command()
def version() -> None:
    """Print the workbench version."""
    console.print(__version__)


# the `results` commands' store, one declaration (checked by `_checked_store` before the command runs)
StoreOption = Annotated[
    str | None,
    typer.Option(
        callback=_checked_store,
        help="Results folder or fsspec URL (s3://bucket/prefix); default WORKBENCH_RESULTS or ./results.",
    ),
]

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        help="A folder of your own dataset cards, looked up after the shipped ones (adds to WORKBENCH_CATALOG).",
    ),
]


def _use_catalog(catalog: Path | None) -> None:
    if catalog is not None:
        from workbench.config import use_catalog

        use_catalog(catalog)


@datasets_app.command("list")
def datasets_list(catalog: CatalogOption = None) -> None:
    """One line per dataset: subsets, files, licence (your own cards say where their files are)."""
    from workbench.data import all_cards
    from workbench.data.cards import UserCard

    _use_catalog(catalog)
    try:
        cards = all_cards()
    except WorkbenchError as exc:
        _fail(exc)
    table = Table(title="Workbench dataset catalog")
    for col in ("dataset", "title", "subsets", "files", "mirrored", "licence"):
        table.add_column(col, overflow="fold")
    for name, card in sorted(cards.items()):
        if isinstance(card, UserCard):
            table.add_row(
                name, card.title, ", ".join(card.subsets), ", ".join(card.source.paths), "-", card.licence[:40]
            )
            continue
        mirrored = sum(f.in_mirror_manifest for f in card.files)
        table.add_row(name, card.title, ", ".join(card.subsets), str(len(card.files)), str(mirrored), card.licence[:40])
    console.print(table)


@datasets_app.command("add")
def datasets_add(
    name: Annotated[str, typer.Argument(help="The dataset's name (the card is <catalog>/<name>.yaml).")],
    path: Annotated[
        list[str],
        typer.Option("--path", help="A file, folder, glob or fsspec URL (s3://, gs://, https://); repeatable."),
    ],
    catalog: CatalogOption = None,
    layout: Annotated[str, typer.Option(help="long (one row per series and time) or wide (one column per series).")] = (
        "long"
    ),
    file_format: Annotated[
        str | None, typer.Option("--format", help="parquet or csv (default: from the file names).")
    ] = None,
    id_col: Annotated[str, typer.Option(help="Column of the series ids (long layout).")] = "unique_id",
    time_col: Annotated[str, typer.Option(help="Column of the timestamps.")] = "ds",
    target_col: Annotated[str, typer.Option(help="Column of the values (long layout).")] = "y",
    time_format: Annotated[str | None, typer.Option(help="strftime format of the timestamps.")] = None,
    freq: Annotated[str | None, typer.Option(help="pandas frequency (default: inferred from the data).")] = None,
    season_length: Annotated[int, typer.Option(help="Season length (e.g. 24 for hourly data).")] = 1,
    horizon: Annotated[int | None, typer.Option(help="Default forecast horizon.")] = None,
    metadata_cols: Annotated[
        str | None, typer.Option(help="Per-series columns kept beside the values, comma-separated (metric_type,host).")
    ] = None,
    title: Annotated[str, typer.Option(help="A title for `datasets list`.")] = "",
    allow_missing: Annotated[bool, typer.Option(help="Keep missing values instead of refusing them.")] = False,
    gap_policy: Annotated[
        str | None,
        typer.Option(
            help="Accept stamps missing on the frequency's grid; tasks fill them: by_metric_type (gauges and rates "
            "forward-filled, counts zero-filled), ffill, zero or nan. Recorded in the card."
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            help="Anomaly labels of the series (CSV or parquet, a path or fsspec URL), checked against the files "
            "and named in the card's `labels:` section, so detection tasks can run on the dataset."
        ),
    ] = None,
    labels_kind: Annotated[
        str,
        typer.Option(help="points (columns unique_id, ds: a labelled stamp a row) or windows (unique_id, start, end)."),
    ] = "points",
    force: Annotated[bool, typer.Option("--force", help="Replace your own card of that name.")] = False,
) -> None:
    """Check your own files and write their card; nothing is written when a check fails (exit 2).

    Checks: the id, time and target columns exist; rows are sorted by series then time, with no
    repeated (series, time); each series has one frequency, its stamps on that frequency's grid (stamps
    missing on it only with --gap-policy); metadata columns hold one value per series; count series
    (metric_type count) hold non-negative integers; each series lives in one file. Errors name the
    file and the row. With --labels, every label names a series of the files and a stamp it holds
    (windows: start no later than end, no overlaps); errors name the labels file and its row."""
    from workbench.semantics import GAP_POLICIES
    from workbench.sources.add import add_dataset

    def labels_check(card):
        """The labels file read on its own (columns, stamps), then checked against the files' stamps."""
        from workbench.anomaly.user_labels import check_labels, read_labels

        table = read_labels(card)
        return set(table["unique_id"]), lambda stamps: len(check_labels(card, table, stamps))

    if layout not in ("long", "wide"):
        _fail(WorkbenchError(f"--layout must be long or wide, got {layout!r}"))
    if gap_policy is not None and gap_policy not in GAP_POLICIES:
        _fail(WorkbenchError(f"--gap-policy must be one of {', '.join(GAP_POLICIES)}, got {gap_policy!r}"))
    if labels_kind not in ("points", "windows"):
        _fail(WorkbenchError(f"--labels-kind must be points or windows, got {labels_kind!r}"))
    _use_catalog(catalog)
    try:
        card_path, found = add_dataset(
            name,
            path,
            catalog=catalog,
            layout=layout,
            format=file_format,
            id_col=id_col,
            time_col=time_col,
            target_col=target_col,
            time_format=time_format,
            freq=freq,
            season_length=season_length,
            horizon=horizon,
            metadata_cols=[c.strip() for c in metadata_cols.split(",") if c.strip()] if metadata_cols else None,
            title=title,
            allow_missing=allow_missing,
            gap_policy=gap_policy,
            labels=labels,
            labels_kind=labels_kind,
            labels_check=labels_check if labels is not None else None,
            force=force,
        )
    except WorkbenchError as exc:
        _fail(exc)
    console.print(
        f"[green]✓[/] {name}: {found['n_series']} series, {found['n_rows']} rows in {found['files']} file(s), "
        f"frequency {found['freq']}; card {card_path}",
        soft_wrap=True,
    )
    gaps = found["gaps"]
    if gaps.series:
        top = ", ".join(f"{uid} {n}" for uid, n in gaps.top(5))
        console.print(
            f"gaps: {gaps.n_missing} stamp(s) missing in {len(gaps.series)} series, filled by tasks with gap "
            f"policy {gap_policy} (the card's default); most: {top}",
            soft_wrap=True,
            markup=False,
        )
    if labels is not None:
        console.print(f"labels: {found['n_labels']} {labels_kind} checked against the files ({labels})", markup=False)


@datasets_app.command("info")
def datasets_info(name: str, catalog: CatalogOption = None) -> None:
    """Everything the card says about one dataset."""
    from workbench.data import get_card
    from workbench.data.cards import UserCard

    _use_catalog(catalog)
    try:
        card = get_card(name)
    except WorkbenchError as exc:
        _fail(exc)
    console.print(f"[bold]{card.name}[/]: {card.title}")
    if isinstance(card, UserCard):
        src = card.source
        console.print(f"[bold]card:[/] {card.path}\n[bold]source:[/] {', '.join(src.paths)}", soft_wrap=True)
        columns = f"id {src.id_col}, time {src.time_col}, target {src.target_col}"
        console.print(f"[bold]layout:[/] {src.layout}, {src.format or 'format from file names'}; {columns}")
        if src.metadata_cols:
            console.print(f"[bold]per-series metadata:[/] {', '.join(src.metadata_cols)}")
        console.print(
            f"[bold]subset:[/] all; freq {card.freq}, season {card.season_length}, horizon {card.horizon}, "
            f"series {card.n_series}"
        )
        return
    if card.description:
        console.print(card.description)
    console.print(f"[bold]licence:[/] {card.licence}\n[bold]citation:[/] {card.citation}\n[bold]card:[/] {card.path}")
    subsets = Table(title="subsets")
    for col in ("subset", "freq", "season", "horizon", "series", "splits"):
        subsets.add_column(col)
    for sname, sub in card.subsets.items():
        subsets.add_row(
            sname,
            str(sub.freq),
            str(sub.season_length),
            str(sub.horizon),
            str(sub.n_series),
            ", ".join(sub.splits),
        )
    console.print(subsets)
    if card.tables:
        tables = Table(title="tables")
        tables.add_column("table")
        tables.add_column("description", overflow="fold")
        for tname, spec in card.tables.items():
            tables.add_row(tname, spec.description)
        console.print(tables)
    files = Table(title="files")
    for col in ("file", "hash", "bytes"):
        files.add_column(col, overflow="fold")
    for f in card.files:
        files.add_row(f.key, f"{f.hash_algorithm}:{f.expected_hash[:16]}…", str(f.bytes or ""))
    console.print(files)


@datasets_app.command("fetch")
def datasets_fetch(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets to fetch (default: all).")] = None,
    mirrored_only: Annotated[bool, typer.Option(help="Only files the offline mirror carries.")] = False,
) -> None:
    """Fetch and verify a dataset's files into the cache (mirror first, then the URL)."""
    from workbench.data import fetch_dataset, list_datasets

    try:
        for name in names or list_datasets():
            paths = fetch_dataset(name, mirrored_only=mirrored_only)
            console.print(f"[green]✓[/] {name}: {len(paths)} file(s) verified in cache")
    except WorkbenchError as exc:
        _fail(exc)


@datasets_app.command("verify")
def datasets_verify(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets to verify (default: all).")] = None,
) -> None:
    """Re-hash every file (fetching those absent); exit 1 if any file is corrupt."""
    from workbench.data import list_datasets
    from workbench.sources import verify_dataset

    try:
        rows = [row for name in (names or list_datasets()) for row in verify_dataset(name)]
    except WorkbenchError as exc:
        _fail(exc)
    table = Table(title="verification")
    for col in ("dataset", "file", "status", "detail"):
        table.add_column(col, overflow="fold")
    colour = {"ok": "green", "corrupt": "red", "unavailable": "yellow", "error": "red"}
    for r in rows:
        detail = r["detail"] if r["status"] == "ok" else r["detail"][:160]
        table.add_row(r["dataset"], r["file"], f"[{colour[r['status']]}]{r['status']}[/]", detail)
    console.print(table)
    counts = {s: sum(r["status"] == s for r in rows) for s in colour}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    if counts["corrupt"] or counts["error"]:
        raise typer.Exit(code=1)


@datasets_app.command("summary")
def datasets_summary(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets to summarise (default: all).")] = None,
    output: Annotated[Path, typer.Option(help="CSV written with the table.")] = Path("results/datasets_summary.csv"),
) -> None:
    """Load every subset of the catalog and print sizes and lengths (the quick-start job)."""
    from workbench.data.summary import summarize_catalog

    try:
        frame = summarize_catalog(names)
    except WorkbenchError as exc:
        _fail(exc)
    table = Table(title="catalog summary")
    cols = ["dataset", "subset", "split", "status", "n_series", "n_rows", "min_length", "max_length", "horizon"]
    for col in cols:
        table.add_column(col, justify="right" if col.startswith(("n_", "m", "h")) else "left")
    for _, r in frame.iterrows():
        cells = [
            "" if c not in r or r[c] != r[c] else str(int(r[c]) if isinstance(r[c], float) else r[c]) for c in cols
        ]
        table.add_row(*cells)
    console.print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(output)
    n_ok, n_na = (frame["status"] == "ok").sum(), (frame["status"] == "unavailable").sum()
    console.print(f"{n_ok} splits loaded, {n_na} unavailable here (no mirror copy, no network); table: {output}")


def _parse_params(values: list[str] | None) -> dict:
    """`-p name=value` pairs; values are YAML (`-p frequencies=[Hourly]`, `-p rescore_official=false`)."""
    import yaml

    params = {}
    for item in values or []:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected name=value, got {item!r}", param_hint="-p")
        try:
            params[name.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problem = str(exc).splitlines()[0]
            raise typer.BadParameter(
                f"{name.strip()}: {raw!r} is not a valid value ({problem})", param_hint="-p"
            ) from None
    return params


def _status_cell(row, colour: dict) -> str:
    if row["status"] == "mismatch" and str(row["note"]).startswith("known discrepancy"):
        return f"[{colour['known']}]mismatch (known)[/]"
    return f"[{colour[row['status']]}]{row['status']}[/]"


@app.command("reproduce")
def reproduce_paper(
    paper: Annotated[str, typer.Argument(help="Paper id (a folder of papers/ with paper.yaml).")],
    output: Annotated[Path, typer.Option(help="Folder for <id>.csv, the executed notebook and its HTML.")] = Path(
        "results/papers"
    ),
    full: Annotated[
        bool, typer.Option("--full", help="The paper's full-size parameters (e.g. all M4 frequencies).")
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Notebook parameter name=value (YAML).")
    ] = None,
    html: Annotated[bool, typer.Option(help="Also render the executed notebook to HTML.")] = True,
    store: Annotated[
        str | None,
        typer.Option(
            callback=_checked_store,
            help="Results store (folder or fsspec URL) for the reproduction's results (default: WORKBENCH_RESULTS).",
        ),
    ] = None,
) -> None:
    """Run a paper's reproduction notebook and print claimed vs reproduced, one row per claim.

    Exit status 1 when any available cell is a mismatch; unavailable cells are listed, not failed."""
    from workbench.papers import reproduce

    params = _parse_params(param)
    try:
        result = reproduce(paper, output, parameters=params, full=full, html=html, store=store)
    except WorkbenchError as exc:
        _fail(exc)
    report = result.report
    shown = report[report["status"] != "unavailable"]
    table = Table(title=f"{paper}: claimed vs reproduced ({len(shown)} available cells)")
    for col in ("dataset", "subset", "method", "metric", "claimed", "reproduced", "status"):
        table.add_column(col, justify="right" if col in ("claimed", "reproduced") else "left", no_wrap=True)
    colour = {"match": "green", "mismatch": "bold red", "known": "yellow"}
    for _, r in shown.iterrows():
        table.add_row(
            str(r["dataset"]),
            r["subset"],
            r["method"],
            r["metric"],
            f"{r['claimed']:.3f}",
            f"{r['reproduced']:.3f}",
            _status_cell(r, colour),
        )
    console.print(table)
    unavailable = report[report["status"] == "unavailable"]
    if len(unavailable):
        from rich.markup import escape

        # one line per reason (a note may hold a command with brackets: printed as text, not markup)
        reasons = unavailable.groupby("note", sort=False)["subset"].agg(["size", lambda s: sorted(set(s))])
        console.print(f"{len(unavailable)} cells unavailable, {len(reasons)} reason(s):")
        for note, (count, subsets) in zip(reasons.index, reasons.itertuples(index=False), strict=True):
            where = ", ".join(subsets[:4]) + (f" and {len(subsets) - 4} more" if len(subsets) > 4 else "")
            console.print(f"  {count} cell(s) of {escape(where)}: {escape(note.split(' https://')[0][:240])}")
    counts = result.counts
    console.print(
        f"{counts['match']} match, {counts['mismatch']} mismatch ({counts['known']} known discrepancies), "
        f"{counts['unavailable']} unavailable "
        f"in {result.seconds:.0f} s. Report: {result.csv} (notebook {result.notebook}"
        + (f", HTML {result.html})" if result.html else ")")
        + (f"; claims committed to the store {result.store.root}" if result.store else "")
    )
    if not result.ok:
        raise typer.Exit(code=1)


@app.command("present")
def present_paper(
    paper: Annotated[
        str | None,
        typer.Argument(
            help="Paper id whose reproduction is stored (workbench reproduce <id>); leave out with --store "
            "for a deck of the store's own results."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Deck file (default results/papers/<id>.slides.html; results/decks/<dataset>.slides.html)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            callback=_checked_store,
            help="Results store (default: WORKBENCH_RESULTS). Without a paper: the deck is of this store's "
            "own results (which model wins where, critical differences, forecasts, provenance).",
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="Without a paper: the task shown (its key or title; default the largest).")
    ] = None,
    catalog: CatalogOption = None,
    labels: Annotated[
        Path | None, typer.Option(help="Without a paper: CSV of labelled anomalies (unique_id, ds) to mark.")
    ] = None,
) -> None:
    """Write an offline reveal.js slide deck: of a paper's stored reproduction (claim, protocol,
    results), or, with --store and no paper, of the store's own results.

    `workbench present m4` is a paper's deck; `workbench present --store results/ --task fleet` the deck of
    what the store holds: the question, the data, which model wins where, the CD diagram, forecasts."""
    from workbench.present import present, present_store

    _use_catalog(catalog)
    if paper is None and store is None:
        _fail(WorkbenchError("give a paper id (workbench present m4) or a store (workbench present --store DIR)"))
    try:
        if paper is not None:
            if task is not None or labels is not None:
                raise WorkbenchError("--task and --labels are for a store's deck: leave out the paper id")
            deck = present(paper, output, store)
        else:
            deck = present_store(store, output, task=task, labels=labels)
    except (WorkbenchError, KeyError) as exc:
        _fail(exc)
    console.print(f"{deck.slides} slides: {deck.html} (source notebook {deck.notebook})")


@app.command("run")
def run_grid(
    config: Annotated[
        Path, typer.Argument(help="Grid file (YAML): tasks, models, detection_tasks, detectors, chunk_size, seed, ...")
    ],
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: dask config / DASK_SCHEDULER_ADDRESS).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            callback=_checked_store,
            help="Results store, a folder or an fsspec URL (default: the file's, or ./results).",
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Workers of the embedded LocalCluster (default: cores).")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Recompute units that ended in error or timeout.")] = False,
    reuse_across_code: Annotated[
        bool,
        typer.Option(help="Reuse units made by other workbench code (listed in the run record as reused)."),
    ] = False,
    catalog: CatalogOption = None,
) -> None:
    """Evaluate a task × model grid on Dask, and its detection tasks × detectors (`detection_tasks`,
    `detectors`) into the same store, on one cluster; a rerun resumes where a previous one stopped."""
    from workbench.engine import evaluate
    from workbench.engine.cluster import connect
    from workbench.engine.grid import load_grid

    _use_catalog(catalog)
    summary, detections = None, []
    try:
        grid = load_grid(config)
        if scheduler is None and grid.tasks:  # every problem of the grid at once, before a cluster starts
            from workbench.engine.preflight import check_grid

            check_grid(grid.tasks, grid.models, grid.chunk_size, where=f"{config}: ")
        with connect(None, scheduler, workers) as client:
            if grid.tasks:
                summary = evaluate(
                    grid.tasks,
                    grid.models,
                    client=client,
                    store=store or grid.store,
                    chunk_size=grid.chunk_size,
                    seed=grid.seed,
                    save_forecasts=grid.save_forecasts,
                    timeout_s=grid.timeout_s,
                    retry_failed=retry_failed,
                    reuse_across_code=reuse_across_code or grid.reuse_across_code,
                )
            if grid.detection_tasks:
                from workbench.anomaly.engine import detect_on_engine

                for task in grid.detection_tasks:
                    detections.append(
                        detect_on_engine(
                            task,
                            list(grid.detectors),
                            client=client,
                            store=summary.store if summary is not None else store or grid.store,
                            chunk_size=grid.detection_chunk_size,
                            seed=grid.seed,
                            retry_failed=retry_failed,
                            strict=False,  # a failed detector is a failed unit, reported below (exit 1)
                        )
                    )
    except WorkbenchError as exc:
        _fail(exc)
    import shlex

    from rich.markup import escape

    from workbench.store.failures import failed_units, failure_lines

    # units stored as failed count as complete (not retried unless asked), so a rerun that computes
    # nothing is only "nothing to compute" when none of its planned units failed before
    before = summary.n_failed_before if summary is not None else 0
    if summary is not None:
        counts = ", ".join(f"{n} {s}" for s, n in summary.counts().items())
        counts = counts or (f"{before} unit(s) failed before, not retried" if before else "nothing to compute")
        console.print(
            f"run {summary.run_id}: {summary.n_units} units, {summary.n_skipped} already complete, "
            f"{summary.n_computed} computed ({counts}) in {summary.seconds:.1f} s; store {summary.store.root}",
            soft_wrap=True,
        )
        for records, kind in ((summary.records, "forecast"), (summary.score_records, "score")):
            failed = records[records["status"] != "ok"] if len(records) else records
            for _, r in failed.head(10).iterrows():
                metric = f"metric {r['metric']} " if kind == "score" else ""
                where = f"{r['subset']} {r['model']} {metric}chunks {r['chunks']}"
                console.print(f"  [red]{r['status']}[/] {escape(where)}: {escape(str(r['error']))}", soft_wrap=True)
            if len(failed) > 10:
                console.print(f"  ... and {len(failed) - 10} more failed {kind} units")
        if before:
            console.print(
                f"[red]{before} unit(s) of this grid failed in an earlier run[/] and were kept, not recomputed "
                "(their results are missing from every leaderboard):"
            )
            for line in failure_lines(failed_units(summary.failed_before), limit=20):
                console.print(f"  {escape(line)}", soft_wrap=True)
    # a detection unit stored as failed (in this run or an earlier one) is kept like a forecast unit
    failed_detection = 0
    for run in detections:
        records = run.records
        failed = records[records["status"] != "ok"] if len(records) else records
        failed_detection += len(failed)
        what = f"{len(failed)} failed" if len(failed) else "none failed"
        console.print(
            f"detection {escape(run.data.task.name)}: {len(records)} units, {len(records) - run.n_computed} already "
            f"complete, {run.n_computed} computed ({what}); {len(run.detections)} of {len(grid.detectors)} "
            f"detector(s) scored; store {run.store.root}",
            soft_wrap=True,
        )
        for _, r in failed.head(10).iterrows():
            where = f"{r['subset']} {r['model']} item chunk {r['chunks']}"
            console.print(f"  [red]{r['status']}[/] {escape(where)}: {escape(str(r['error']))}", soft_wrap=True)
        if len(failed) > 10:
            console.print(f"  ... and {len(failed) - 10} more failed detection units")
    if (summary is not None and summary.n_failed) or before or failed_detection:
        retry = ["workbench", "run", str(config), "--retry-failed"]
        retry += ["--store", store] if store else []
        retry += ["--catalog", str(catalog)] if catalog is not None else []
        retry += ["--scheduler", scheduler] if scheduler else []
        retry += ["--workers", str(workers)] if workers else []
        retry += ["--reuse-across-code"] if reuse_across_code else []
        console.print(f"to recompute the failed units: {escape(shlex.join(retry))}", soft_wrap=True)
        raise typer.Exit(code=1)


@app.command("sweep")
def sweep_notebooks(
    config: Annotated[Path, typer.Argument(help="Notebook sweep file (YAML): notebook, parameters, grid, cells.")],
    output: Annotated[Path | None, typer.Option(help="Folder for executed notebooks (default: the file's).")] = None,
    workers: Annotated[int | None, typer.Option(help="Notebooks run at once (default: the file's, or 1).")] = None,
    executor: Annotated[str | None, typer.Option(help="`local` (process pool) or `dask`.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (executor dask).")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            callback=_checked_store,
            help="Results store (a folder or an fsspec URL) handed to notebooks that declare `store`.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Fixed parameter name=value (YAML) for every cell.")
    ] = None,
) -> None:
    """Execute a notebook over a parameter grid with papermill; complete cells are skipped on a rerun.

    Exit status 1 when any cell failed (its executed notebook keeps the error); 2 on a bad sweep file."""
    from workbench.sweeps import load_notebook_sweep, notebook_parameters, run_notebook_sweep

    if executor not in (None, "local", "dask"):
        raise typer.BadParameter(f"executor must be `local` or `dask`, got {executor!r}")
    try:
        overrides = _parse_params(param)
        if store is not None:  # handed to notebooks that declare `store`, as an absolute path or a URL
            from workbench.store.results_store import results_root

            sweep = load_notebook_sweep(config, output)
            if "store" in notebook_parameters(sweep.notebook):
                overrides["store"] = str(results_root(store))
        sweep = load_notebook_sweep(config, output, overrides)
        console.print(f"sweep {config}: {len(sweep.cells)} cells of {sweep.notebook.name} -> {sweep.output}")
        summary = run_notebook_sweep(sweep, workers=workers, executor=executor, scheduler=scheduler)
    except WorkbenchError as exc:
        _fail(exc)
    for i, line in enumerate(summary.lines()):
        console.print(line if i == 0 else f"  [red]{line}[/]", soft_wrap=True)
    if not summary.ok:
        raise typer.Exit(code=1)


@app.command("report")
def report(
    results: Annotated[
        str | None,
        typer.Option(
            "--results",
            "--store",
            callback=_checked_store,
            help="Results folder or fsspec URL (s3://bucket/prefix); default WORKBENCH_RESULTS or ./results.",
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file written.")] = Path("report.html"),
    papers: Annotated[
        Path | None, typer.Option(help="Folder of claimed-vs-reproduced CSVs (default: <results>/papers).")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Metric ranked and tested (default: mase, else smape).")] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(help="Model(s) the skill scores are relative to (repeatable; default Naive2 and seasonal naive)."),
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the skill intervals.")] = 1000,
    png: Annotated[
        Path | None, typer.Option(help="Also export every figure as PNG here (needs Chromium + Playwright).")
    ] = None,
    higher_is_better: Annotated[
        bool,
        typer.Option(
            "--higher-is-better",
            help="The metric is a score workbench does not register (a detection score); forecast metrics "
            "declare their own direction.",
        ),
    ] = False,
    catalog: CatalogOption = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="CSV of labelled anomalies (columns unique_id, ds), marked on the forecast plots."),
    ] = None,
    series: Annotated[
        int, typer.Option("--series", help="What to deploy: series the chosen model would run on.")
    ] = 1_000_000,
    every: Annotated[str, typer.Option("--every", help="What to deploy: a forecast per series this often.")] = "1h",
    false_alarms_per_week: Annotated[
        float, typer.Option(help="What to deploy: the alert budget, false alarms per series per week.")
    ] = 1.0,
) -> None:
    """Write one self-contained HTML report (opens offline) of a results store and the papers' reports.

    It opens with which model wins for which kind of series (by the series' metadata columns, e.g.
    metric_type), what to deploy (accuracy, alert quality at the budget and cost at --series every --every,
    with the Pareto frontier), then leaderboards, skill, critical differences and forecasts with intervals."""
    from workbench.anomaly.alerts import AlertBudget
    from workbench.report import build_report
    from workbench.report.browser import export_pngs, find_chromium
    from workbench.report.deploy import DeployQuestion
    from workbench.store.cost import parse_every

    _use_catalog(catalog)
    root = _store_root(results)
    try:
        parse_every(every)
        if series < 1:
            raise WorkbenchError(f"--series must be at least 1, got {series}")
        question = DeployQuestion(n_series=series, every=every, budget=AlertBudget.per_week(false_alarms_per_week))
        page = build_report(
            root,
            output,
            papers=papers or (root / "papers" if isinstance(root, Path) else None),
            metric=metric,
            baseline=baseline,
            n_boot=n_boot,
            higher_is_better=higher_is_better,
            labels=labels,
            deploy=question,
        )
    except (WorkbenchError, KeyError) as exc:
        _fail(exc)
    console.print(f"report: {page} ({page.stat().st_size / 1e6:.1f} MB, self-contained)")
    if png is not None:
        if find_chromium() is None:
            console.print("[yellow]no Chromium/Playwright here: PNG export skipped[/]")
        else:
            paths = export_pngs(page, png)
            console.print(f"{len(paths)} figure(s) exported as PNG to {png}")


def _print_frame(frame, title: str) -> None:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "fiu" else "left")
    for _, row in frame.iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


@results_app.command("sql")
def results_sql(
    query: Annotated[
        str,
        typer.Argument(
            help="SQL over the views metrics, forecasts, detection_scores, detection_metrics, claims, units, runs."
        ),
    ],
    store: StoreOption = None,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Answer SQL over the results store with DuckDB (no file is re-hashed; see `results verify`)."""
    from workbench.store.sql import sql

    try:
        frame = sql(query, store)
    except WorkbenchError as exc:
        _fail(exc)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        _print_frame(frame, f"{len(frame)} rows")


@results_app.command("leaderboard")
def results_leaderboard(
    store: StoreOption = None,
    metric: Annotated[list[str] | None, typer.Option(help="Only these metrics.")] = None,
    detection: Annotated[
        bool, typer.Option("--detection", help="The detection leaderboard (detection_metrics, best first).")
    ] = False,
    allow_duplicates: Annotated[
        bool, typer.Option("--allow-duplicates", help="Show a board over duplicated rows, with n_duplicates.")
    ] = False,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
    by: Annotated[
        str | None,
        typer.Option(help="Break each row down by series columns, comma-separated (metric_type,service)."),
    ] = None,
) -> None:
    """One row per task, model and metric (and group, with --by): the mean of the defined per-series values.

    For crps, wql and mase_fev also `pooled`, the value over every cell of the task (GIFT-Eval's, BOOM's and
    fev's task score). With the number of series, windows and undefined values, the rank by the metric's direction and
    the failed units; never averages across tasks; rows stored twice are refused unless
    --allow-duplicates."""
    from workbench.store.sql import detection_leaderboard, leaderboard

    try:
        if detection:
            if by:
                raise WorkbenchError("--by breaks down forecast metrics; the detection board has no series view")
            frame = detection_leaderboard(store, tuple(metric) if metric else None, allow_duplicates=allow_duplicates)
        else:
            frame = leaderboard(store, tuple(metric) if metric else None, allow_duplicates=allow_duplicates, by=by)
    except WorkbenchError as exc:
        _fail(exc)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
    else:  # the cost's interval and basis are for `workbench results cost` (and --csv): a table this wide wraps
        shown = frame.drop(columns=["cpu_s_per_1k_lo", "cpu_s_per_1k_hi", "throughput_per_s", "cost_basis"])
        _print_frame(shown, "detection leaderboard" if detection else "leaderboard (mean of per-series values)")
    # a failed unit holds no rows, so the board above cannot show it: list the failures below it
    # (on stderr with --csv, so the CSV stays whole); the board itself is fine, so the exit code is 0
    from rich.markup import escape

    from workbench.store.failures import failed_units, failure_lines

    failed = failed_units(store)
    failed = failed[failed["kind"].isin(("detection",) if detection else ("forecast", "score"))]
    if len(failed):
        out = Console(stderr=True, width=console.width) if csv else console
        out.print(
            f"[red]{int(failed['n_failed'].sum())} failed unit(s)[/], whose results are missing from the board "
            "(per task, model and kind of unit):"
        )
        for line in failure_lines(failed):
            out.print(f"  {escape(line)}", soft_wrap=True)
        if not detection:
            out.print("`workbench run GRID --retry-failed` recomputes them (evaluate(..., retry_failed=True))")


@results_app.command("cost")
def results_cost(
    series: Annotated[int, typer.Option("--series", help="Series the models would run on.")] = 1_000_000,
    every: Annotated[
        str,
        typer.Option("--every", help="A forecast (a detector: a new point) per series this often: 1h, 15min."),
    ] = "1h",
    store: StoreOption = None,
    model: Annotated[list[str] | None, typer.Option(help="Only these models (labels as on the leaderboard).")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV (every column) instead of a table.")] = False,
) -> None:
    """Core-hours per day of running each model over --series series every --every, from the CPU seconds its
    stored units measured (per task, with a bootstrap interval over units); weights loading apart, once per process.

    Figures measured on a loaded machine are upper bounds."""
    from workbench.store.cost import cost_board, project

    try:
        board = cost_board(store)
        if model:
            unknown = sorted(set(model) - set(board["model"]))
            if unknown:
                raise WorkbenchError(
                    f"no measured units of model(s) {unknown}; measured: {sorted(set(board['model']))}"
                )
            board = board[board["model"].isin(model)]
        if board.empty or board["cpu_s_per_1k"].isna().all():
            raise WorkbenchError(
                "no unit of this store recorded CPU seconds; `workbench run GRID` with this version measures them"
            )
        frame = project(board, series, every)
    except WorkbenchError as exc:
        _fail(exc)
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    shown = frame[
        [
            *("task", "model", "per", "n_basis_units", "cpu_s_per_1k", "cpu_s_per_1k_lo", "cpu_s_per_1k_hi"),
            *("core_hours_per_day", "core_hours_per_day_lo", "core_hours_per_day_hi", "cores", "load_s", "device"),
        ]
    ]
    cadence = f"every {every}"
    _print_frame(
        shown, f"cost of {series:,} series, one run per series {cadence} (CPU s per 1,000; 95% bootstrap over units)"
    )
    bases = frame.loc[frame["cost_basis"] != "warm units", ["task", "model"]]
    for task, name in bases.itertuples(index=False):
        console.print(
            f"[yellow]{name} on {task}: each unit was its model's first in its process (one-off work included)[/]"
        )


@results_app.command("breakdown")
def results_breakdown(
    by: Annotated[str, typer.Option(help="Series columns whose values form the groups (metric_type,service).")],
    store: StoreOption = None,
    metric: Annotated[str, typer.Option(help="The metric compared (its direction says what is better).")] = "mase",
    baseline: Annotated[
        str | None, typer.Option(help="The model skill is relative to (default: the seasonal-naive model).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the skill intervals.")] = 1000,
    best_only: Annotated[bool, typer.Option("--best-only", help="Only each group's best model.")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Which model where: per task and group of series, each model's mean, skill against the
    seasonal-naive baseline with a bootstrap interval, win rate, and the group's best model."""
    import pandas as pd

    from workbench.report.compare import which_model_where
    from workbench.store.sql import series_metrics

    groups = [c.strip() for c in by.split(",") if c.strip()]
    try:
        rows = series_metrics(store, [metric])
        if rows.empty:
            raise WorkbenchError(
                f"the store holds no {metric!r} rows; `workbench results leaderboard` lists its metrics"
            )
        absent = [c for c in groups if c not in rows.columns]
        if absent:
            have = sorted(set(rows.columns) - {"task_key", "task", "model", "window", "unique_id", "metric", "value"})
            raise WorkbenchError(f"cannot break down by {absent}: the stored series have the column(s) {have}")
        frames = []
        for (task_key, task), part in rows.groupby(["task_key", "task"], sort=True):
            table = which_model_where(part.fillna({c: "(unknown)" for c in groups}), metric, groups, baseline,
                                      n_boot=n_boot)  # fmt: skip
            frames.append(table.assign(task=task, task_key=task_key))
    except (WorkbenchError, KeyError, ValueError) as exc:
        _fail(exc)
    frame = pd.concat(frames, ignore_index=True)
    if best_only:
        frame = frame[frame["best"]]
    keep = [*groups, "model", "mean", "n_series", "n_undefined", "skill", "ci_low", "ci_high", "win_rate", "best"]
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    for task, part in frame.groupby("task", sort=True):
        base = part["baseline"].iloc[0]
        _print_frame(part[keep], f"{task}\nwhich model where: {metric} by {', '.join(groups)}; skill against {base}")


@results_app.command("import")
def results_import(
    source: Annotated[str, typer.Argument(help="Layout: only gift-eval (GIFT-Eval / BOOM all_results.csv).")],
    target: Annotated[Path, typer.Argument(help="An all_results.csv, or a folder searched for them.")],
    store: StoreOption = None,
    name: Annotated[
        list[str] | None, typer.Option(help="Model name per file, in sorted file order (default: each file's folder).")
    ] = None,
    label: Annotated[str, typer.Option(help="Where the results come from (e.g. boom), kept on every row.")] = "",
) -> None:
    """Import published per-task results as `published` units (table published_metrics); every file
    is checked before anything is written."""
    from workbench.results_import import import_gift_eval

    if source != "gift-eval":
        _fail(WorkbenchError(f"unknown layout {source!r}; known: gift-eval"))
    try:
        keys = import_gift_eval(target, store, name, label)
    except WorkbenchError as exc:
        _fail(exc)
    console.print(f"{len(keys)} published unit(s) committed from {target}")


@results_app.command("verify")
def results_verify(
    store: StoreOption = None,
) -> None:
    """Re-hash every committed unit's files; exit 1 naming each damaged unit.

    Damage: a missing file, a hash mismatch, an unparseable or edited record. Orphan files
    (harmless) are counted; `results gc` removes them."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from workbench.store.results_store import ResultsStore

    s = ResultsStore(_store_root(store))
    if not s.exists():
        _fail(WorkbenchError(f"results store {s.root}: no such folder"))
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, console=console, transient=True) as bar:
        task = bar.add_task("hashing", total=None)
        report = s.verify(on_start=lambda total: bar.update(task, total=total), on_bytes=lambda n: bar.advance(task, n))
    console.print(
        f"{s.root}: {report.n_units} units, {report.n_files} files, {report.n_bytes / 1e6:.1f} MB hashed in "
        f"{report.seconds:.2f} s ({report.mb_per_s:.0f} MB/s); {len(report.orphans)} orphan file(s)"
    )
    if report.damaged:
        for key, why in sorted(report.damaged.items()):
            console.print(f"[bold red]damaged[/] {key}: {why}", soft_wrap=True)
        console.print(f"{len(report.damaged)} damaged unit(s): a resumed run recomputes them.")
        raise typer.Exit(code=1)
    console.print("every unit intact")


@results_app.command("gc")
def results_gc(
    store: StoreOption = None,
    min_age: Annotated[
        float, typer.Option(help="Only files older than this many seconds (younger ones may be mid-commit).")
    ] = 3600.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed.")] = False,
) -> None:
    """Remove orphan files: data files no committed record names, and unfinished temporaries."""
    from workbench.store.results_store import ResultsStore

    s = ResultsStore(_store_root(store))
    if not s.exists():
        _fail(WorkbenchError(f"results store {s.root}: no such folder"))
    removed = s.gc(min_age_s=min_age, dry_run=dry_run)
    for path in removed:
        console.print(s.relative(path), soft_wrap=True)
    console.print(f"{len(removed)} orphan file(s) {'would be ' if dry_run else ''}removed from {s.root}")


if __name__ == "__main__":
    app()
