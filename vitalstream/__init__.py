"""vitalstream shell: the CLI, the local stack, the read API and the ops console, over the platform layer."""

from vitalstream.platform import __version__

__all__ = ["__version__"]
