"""Errors raised at synth time for bad input."""


class LifecycleConfigError(ValueError):
    """A lifecycle configuration that cannot work: the message names the field and the fix."""
