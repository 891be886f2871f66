"""How the workbench starts the Jupyter kernels that execute notebooks (reproductions, sweeps).

The name says Jupyter: the numba kernels of the classic models live in `workbench.classic`.

The default start binds the kernel's ZeroMQ sockets over plain TCP, and ipykernel then prints
"Kernel is running over TCP without encryption" into every executed notebook. Where pyzmq has
CurveZMQ support, the kernel manager provisions keys instead ("auto" applies them only to
kernelspecs that declare support), so the channels are encrypted and the warning never appears.
`execute_notebook` is the one papermill call of the workbench: a paper reproduction and a sweep
cell run their notebooks through it, with these settings, from the notebook's own folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["execute_notebook", "kernel_config"]


def kernel_config() -> Any:
    """The kernel manager's settings for papermill's kernels (a traitlets Config)."""
    import zmq
    from traitlets.config import Config

    return Config(KernelManager={"transport_encryption": "auto"}) if zmq.has("curve") else Config()


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
    notebook, output: the source notebook (path or parsed node) and where the executed copy goes.
    cwd: the folder the kernel starts in (the source notebook's own, so its relative paths hold).
    parameters: papermill's injected parameters (None: the notebook is run as it is).
    kernel_name: the Jupyter kernel.
    options: further papermill options (`engine_name`, `execution_timeout`, ...).

    Raises papermill's `PapermillExecutionError` when a cell fails; callers say what that means."""
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
