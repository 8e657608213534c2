"""The platform layer every service builds on: settings, observability, control, the Kafka toolkit.

Imports only `schemas` and third-party libraries; `gateway`, `streams` and `sinks` import this
package and `schemas`, never each other (checked by import-linter in `make lint`).
"""

__version__ = "0.1.0"
