__all__: list[str] = []  # the API lives in the submodules
