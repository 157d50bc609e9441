"""Who the controller logs in as on each node (pure): the default cloud-init user, or on a node
without cloud-init the login the build injects the lab key for (Cumulus: ``cumulus``).

Core modules (the build, the bootstrap) import this, never an add-on."""

from __future__ import annotations

from generator.model import Node

CUMULUS_USER = "cumulus"  # the login that gets the lab key on Cumulus switches


def is_cumulus(node: Node) -> bool:
    """A VM made from a Cumulus appliance."""
    return node.image is not None and "cumulus" in node.image.appliance.lower()


def injected_login(node: Node) -> str | None:
    """The login that gets the lab key by injection on a node without cloud-init (Cumulus:
    ``cumulus``), or None. Used by the build (hostname and key) and the bootstrap (SSH user)."""
    return CUMULUS_USER if is_cumulus(node) and node.cloud_init is None else None


def default_user(node: Node) -> str:
    """The node's default (first) cloud-init user, which holds the lab key."""
    if node.cloud_init is None:
        return injected_login(node) or "lab"  # e.g. Cumulus: the key is injected for `cumulus`
    return node.cloud_init.users[0].name if node.cloud_init.users else "lab"
