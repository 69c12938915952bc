"""The repository ports."""

__all__: list[str] = []
