"""User-facing error types, in a module light enough for every stage to import."""


class ModelLoadError(ValueError):
    """The model folder is incomplete or inconsistent; the message names the file."""
