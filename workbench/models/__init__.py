"""Adapters that put other libraries' models behind the workbench's Forecaster interface."""

__all__: list[str] = []  # the API lives in the submodules
