"""How the workbench starts the Jupyter kernels that execute notebooks (reproductions, sweeps).

The name says Jupyter: the numba kernels of the classic models live in `workbench.classic`.

The default start binds the kernel's ZeroMQ sockets over plain TCP, and ipykernel then prints
"Kernel is running over TCP without encryption" into every executed notebook. Where pyzmq has
CurveZMQ support, the kernel manager provisions keys instead ("auto" applies them only to
kernelspecs that declare support), so the channels are encrypted and the warning never appears.
`execute_notebook` is the one papermill call of the workbench: a paper reproduction and a sweep
cell run their notebooks through it, with these settings, from the notebook's own folder.

Shutting a kernel down, jupyter_client first interrupts it (SIGINT), then asks it to shut down.
After the last cell there is nothing to interrupt, but the signal can land while the kernel still
finishes that cell's request (a slow flush on a busy machine, a Dask cluster closing), and ipykernel
then logs `[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.` into a run that went well.
`QuietShutdownKernelManager` skips that interrupt during a shutdown: the shutdown request travels on
the control channel, which a busy kernel still answers, and a kernel that does not stop is still
terminated and killed after `shutdown_wait_time`. Interrupts asked for otherwise (a cell's timeout)
are sent as before.

Inside a notebook, `show_figures_offline()` makes plotly figures carry both the mimetype JupyterLab
renders and an HTML rendering that works offline, with plotly.js embedded once per notebook, so an
executed notebook converted by nbconvert shows its figures without a network; `stop_if_all_failed`
turns a run whose every unit failed into the units' first error instead of empty tables further on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

from workbench.errors import WorkbenchError

__all__ = [
    "FIGURE_RENDERER",
    "QuietShutdownKernelManager",
    "execute_notebook",
    "kernel_config",
    "show_figures_offline",
    "stop_if_all_failed",
]

# JupyterLab's plotly mimetype, and the classic notebook's HTML (plotly.js inlined once, on the first
# figure): what nbconvert's HTML shows, offline
FIGURE_RENDERER = "plotly_mimetype+notebook"


class QuietShutdownKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, without the interrupt a shutdown sends first (see the module).

    Parameters
    ----------
    *args, **kwargs
        Handed to `jupyter_client`'s `AsyncKernelManager` (traitlets settings).
    """

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


def kernel_config() -> Any:
    """The settings of papermill's kernels (a traitlets Config): encrypted channels where pyzmq has
    CurveZMQ, and the kernel manager that shuts a kernel down without interrupting it."""
    import zmq
    from traitlets.config import Config

    config = Config(NotebookClient={"kernel_manager_class": QuietShutdownKernelManager})
    if zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    return config


def show_figures_offline() -> str:
    """Render plotly figures for JupyterLab and, offline, for nbconvert's HTML (`FIGURE_RENDERER`).

    Call it in a notebook's first cell: each figure's output then holds plotly's JSON mimetype and
    an HTML rendering, and the first figure carries plotly.js itself, so the notebook's HTML export
    draws every figure without fetching anything. Returns the renderer set."""
    import plotly.io as pio

    pio.renderers.default = FIGURE_RENDERER
    return FIGURE_RENDERER


def stop_if_all_failed(run: Any) -> None:
    """Raise the units' first error when every unit a run computed failed (nothing to show further on).

    Parameters
    ----------
    run:
        What `workbench.evaluate` returned (`records`: one row per computed unit, `status`, `error`).
        A run that computed nothing (all reused) or had some unit end ok passes.

    Raises
    ------
    WorkbenchError
        With the number of failed units and the first one's model and error (which names the data's
        file, series and row where the data are at fault)."""
    records = getattr(run, "records", None)
    if records is None or not len(records) or (records["status"] == "ok").any():
        return
    first = records.iloc[0]
    error = str(first.get("error") or "no error recorded").strip()
    raise WorkbenchError(
        f"all {len(records)} unit(s) of the run failed; the first ({first.get('model', '?')} on "
        f"{first.get('task_description') or first.get('dataset', '?')}): {error}"
    )


def execute_notebook(
    notebook: Any,
    output: str | Path,
    *,
    cwd: str | Path,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = "python3",
    **options: Any,
) -> Any:
    """Execute `notebook` (a path or a notebook node) into `output` with papermill, from `cwd`.

    Parameters
    ----------
    notebook
        The source notebook: a path or a parsed notebook node.
    output
        Where the executed copy goes.
    cwd
        The folder the kernel starts in (the source notebook's own, so its relative paths hold).
    parameters
        papermill's injected parameters; None: the notebook is run as it is.
    kernel_name
        The Jupyter kernel.
    **options
        Further papermill options (`engine_name`, `execution_timeout`, ...).

    Raises
    ------
    PapermillExecutionError
        A cell fails (papermill's error); callers say what that means.
    """
    import papermill

    return papermill.execute_notebook(
        str(notebook) if isinstance(notebook, Path) else notebook,
        str(output),
        parameters=parameters,
        kernel_name=kernel_name,
        progress_bar=False,
        cwd=str(cwd),
        config=kernel_config(),
        **options,
    )
