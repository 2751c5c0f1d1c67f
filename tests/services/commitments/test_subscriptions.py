"""subscriptions.py: every domain event a package declares has its reactions, in the table the processes
install."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import is_dataclass

import services.commitments
from services.commitments import subscriptions


def test_every_domain_event_of_the_service_has_its_handlers() -> None:
    declared = set()
    for package in pkgutil.iter_modules(services.commitments.__path__):
        if package.ispkg and importlib.util.find_spec(f"services.commitments.{package.name}.events"):
            module = importlib.import_module(f"services.commitments.{package.name}.events")
            declared |= {
                value
                for value in vars(module).values()
                if isinstance(value, type) and is_dataclass(value) and value.__module__ == module.__name__
            }
    assert declared, "no domain event found"
    assert declared == set(subscriptions.HANDLERS)
    assert all(subscriptions.HANDLERS[event] for event in declared)
