"""How the workbench starts the Jupyter kernels that execute notebooks (reproductions, sweeps).

The default start binds the kernel's ZeroMQ sockets over plain TCP, and ipykernel then prints
"Kernel is running over TCP without encryption" into every executed notebook. Where pyzmq has
CurveZMQ support, the kernel manager provisions keys instead ("auto" applies them only to
kernelspecs that declare support), so the channels are encrypted and the warning never appears.
"""

from __future__ import annotations

from typing import Any


def kernel_config() -> Any:
    """The kernel manager's settings for papermill's kernels (a traitlets Config)."""
    import zmq
    from traitlets.config import Config

    return Config(KernelManager={"transport_encryption": "auto"}) if zmq.has("curve") else Config()
