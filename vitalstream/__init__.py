"""vitalstream shell: settings, observability, the CLI and the local stack."""

__version__ = "0.1.0"
