"""The ops console (``vitalstream console``): a live web page for ops and analysts.

Server-rendered HTML (Jinja2, autoescaped) over aiohttp, a little vanilla JavaScript for
Server-Sent Events, every asset shipped in the package (it works air-gapped). Accounts,
sessions and the audit log live in PostgreSQL; dead letters, health and recompute are the
shell's own modules (:mod:`vitalstream.dlq`, :mod:`vitalstream.health`, ``vitalstream recompute``).
"""
