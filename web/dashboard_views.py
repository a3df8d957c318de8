"""The admin dashboard, /healthz and /metrics (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
