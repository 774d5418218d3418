"""User-facing error types, in a module light enough for every stage to import."""


class ModelLoadError(ValueError):
    """The model folder is incomplete or inconsistent; the message names the file."""


class InputError(ValueError):
    """An input that cannot be read as asked, or an output path that cannot be written; the
    message names the file, column, row or value."""
