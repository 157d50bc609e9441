"""Who the controller logs in as on each node (pure): the default cloud-init user, or on a node
without cloud-init the login the build injects the lab key for (Cumulus: ``cumulus``). Both are
read from the model: the appliance's traits (``BaseImage.first_boot``, ``login``, ``system``),
decided when its ``.gns3a`` is loaded (blueprint/appliances.py), never from its name.

Core modules (the build, the bootstrap) import this, never an add-on."""

from __future__ import annotations

from generator.blueprint.appliances import CUMULUS_LINUX
from generator.model import Node


def is_cumulus(node: Node) -> bool:
    """A VM made from an appliance whose system is Cumulus Linux."""
    return node.image is not None and node.image.system == CUMULUS_LINUX


def injected_login(node: Node) -> str | None:
    """The login that gets the lab key by injection on a node without cloud-init (Cumulus:
    ``cumulus``), or None. Used by the build (hostname and key) and the bootstrap (SSH user)."""
    return node.injected_login


def default_user(node: Node) -> str:
    """The node's default (first) cloud-init user, which holds the lab key."""
    if node.cloud_init is None:
        return injected_login(node) or "lab"  # e.g. Cumulus: the key is injected for `cumulus`
    return node.cloud_init.users[0].name if node.cloud_init.users else "lab"
