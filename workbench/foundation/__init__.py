"""Adapters for pretrained (foundation) forecasting models; each needs the `foundation` extra."""
