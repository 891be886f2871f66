"""Adapters for pretrained (foundation) forecasting models; each needs the `foundation` extra.

What they share: weights loaded once per process through `loading` (a worker's later units reuse
them), `uses_accelerator` (the engine routes their units to workers that advertise a GPU),
`runtime_info()` (device, dtype, batch size, seconds, weights loaded or shared: recorded on every
unit) and `pretrained` with a declared training corpus where one is typed (`workbench.leakage`).
"""

__all__: list[str] = []  # the API lives in the submodules
