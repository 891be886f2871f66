"""Native PyTorch models and the trainer they share."""

__all__: list[str] = []  # the API lives in the submodules
