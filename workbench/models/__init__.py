"""Adapters that put other libraries' models behind the workbench's Forecaster interface."""
