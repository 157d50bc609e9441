"""Moved: the resolver's working state is :mod:`generator.resolve.state`. This name stays
for imports that predate the move (``generator.resolve.controller``)."""

from generator.resolve.state import Draft, ResolverBase  # noqa: F401
