"""User and environment errors: each carries a message a person can act on."""


class PicsiftError(Exception):
    """An error caused by the user's input or environment, not by a bug.

    The message is shown to the user as is, on one line, so it says what went wrong and what to do.
    """


class BundleError(PicsiftError):
    """A model bundle is missing, corrupt, tampered with or incompatible."""


class ImageError(PicsiftError):
    """An image file cannot be read or decoded."""
