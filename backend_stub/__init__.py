"""Insurer back-office stub (Alleanza, CA Vita) for the Rasa assistant: a separate service.

Run: ``backend_stub/.venv/bin/python -m backend_stub`` from the repository root.
"""

__version__ = "0.1.0"
