"""User-facing error types, in a module light enough for every stage to import."""


class InputError(ValueError):
    """An input that cannot be read as asked; the message names the file or column."""


class ModelLoadError(ValueError):
    """The model folder is incomplete or inconsistent; the message names the file."""
