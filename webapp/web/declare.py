"""A route's declarations to the web layer, next to the route: an attribute on the view function, with the reason,
which the layer reads back from ``app.view_functions`` (``input_guard.checks_own_body``, ``edge.writes_on_get``)."""
from __future__ import annotations


def route_declaration(attribute: str, reason: str):
    """A decorator setting ``attribute`` to ``reason`` on the view it decorates (put it right under the route)."""
    if not reason:
        raise ValueError(f"{attribute}: say why")

    def decorator(view):
        setattr(view, attribute, reason)
        return view

    return decorator
