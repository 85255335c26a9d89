"""Server-rendered pages, one module per resource (scenarios, plans, catalog, measurements)."""

from __future__ import annotations

from fastapi import APIRouter

from . import catalog, home, measurements, plans, scenarios

routers: list[APIRouter] = [home.router, scenarios.router, plans.router, catalog.router, measurements.router]
