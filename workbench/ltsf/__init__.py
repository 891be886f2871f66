"""Long-horizon forecasting (LTSF): the protocol of the LTSF benchmarks and the linear models.

`LTSFTask` says what is evaluated (dataset, split rule, input length, horizon, how test windows are
scored); `prepare` cuts, scales and windows the table; `run` trains one model and scores it.

Unlike the other packages' names, these are re-exported eagerly: `run` names both the submodule
`workbench.ltsf.run` and its function, and a lazy (PEP 562) re-export would hand out the module once
the submodule had been imported. Every module here is the long-horizon protocol's own.
"""

from workbench.ltsf.data import Borders, StandardScaler, Table, borders, load_ltsf_table
from workbench.ltsf.models import MODELS, DLinear, Linear, NLinear, Repeat, build_model
from workbench.ltsf.protocol import LTSFConfigError, LTSFTask, Prepared, ProtocolWarning, check_protocol, prepare
from workbench.ltsf.run import TrainConfig, run, scores
from workbench.ltsf.windows import Windows, kept_windows

__all__ = [
    "MODELS",
    "Borders",
    "DLinear",
    "LTSFConfigError",
    "LTSFTask",
    "Linear",
    "NLinear",
    "Prepared",
    "ProtocolWarning",
    "Repeat",
    "StandardScaler",
    "Table",
    "TrainConfig",
    "Windows",
    "borders",
    "build_model",
    "check_protocol",
    "kept_windows",
    "load_ltsf_table",
    "prepare",
    "run",
    "scores",
]
