"""The fabric add-on's settings (``extra.provider_vlans``) and VLAN lists in and out."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from generator.addons.base import Issue, validation_issues
from generator.model import Lab
from generator.naming import runs


def parse_vlans(value: Any) -> tuple[int, ...]:
    """``"101-110"``, ``"10,20"``, ``[10, "30-31"]`` or an int -> sorted unique VLAN ids
    (ValueError names the bad item)."""
    if value is None or value == "":
        return ()
    if isinstance(value, bool) or not isinstance(value, (int, str, list)):
        raise ValueError("write VLAN ids and ranges, e.g. 101-110, '10,20' or [101, 105]")
    items = value if isinstance(value, list) else str(value).split(",")
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ValueError(f"cannot read VLAN {item!r}: write ids and ranges, e.g. 101-110")
        lo, _, hi = str(item).strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"cannot read VLAN '{item}': write ids and ranges, e.g. 101-110"
                             ) from None
        if not 1 <= first <= 4094 or not 1 <= last <= 4094:
            raise ValueError(f"VLAN range '{item}' is outside 1-4094")
        if first > last:
            raise ValueError(f"VLAN range '{item}' runs backwards")
        out.update(range(first, last + 1))
    return tuple(sorted(out))


def parse_network(value: str) -> str:
    """An IPv4 network in CIDR form, as written (ValueError says what is wrong)."""
    try:
        return str(ipaddress.IPv4Network(value))
    except ValueError as exc:
        raise ValueError(f"write an IPv4 network, e.g. 10.255.0.0/24 ({exc})") from None


def parse_names(value: Any) -> tuple[str, ...]:
    """A list of names (or one name) -> a tuple (ValueError names the bad item)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueError("write a list of role names, e.g. [spine, leaf]")
    return tuple(items)


def compress_vlans(vids: Iterable[int]) -> str:
    """``[10, 20, 101, 102, 103]`` -> ``10,20,101-103``."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs(sorted(set(vids))))


class FabricSettings(BaseModel):
    """The fabric add-on's settings: top-level keys of ``extra`` (the others are free)."""

    model_config = ConfigDict(strict=True, frozen=True)
    provider_vlans: Annotated[tuple[int, ...], BeforeValidator(parse_vlans)] = Field(
        (), description="Neutron's VLAN provider range on br-vlan, trunked to every server bond "
        "that is bridged untagged, e.g. 101-200,301-400")
    frr_roles: Annotated[tuple[str, ...], BeforeValidator(parse_names)] = Field(
        (), description="Roles whose VMs are FRR switches (the FRR backend: BGP unnumbered "
        "underlay, EVPN-VXLAN overlay, EVPN multihoming), e.g. [spine, leaf]")
    frr_loopbacks: Annotated[str, AfterValidator(parse_network)] = Field(
        "10.255.0.0/24", description="The FRR switches' loopbacks (router id, VTEP address): "
        "host number H of a switch's OOB address gives it address H of this network")


def fabric_source(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of the blueprint's ``extra:`` the fabric settings are read from."""
    return {k: extra[k] for k in FabricSettings.model_fields if k in extra}


def load_fabric_settings(lab: Lab) -> FabricSettings | None:
    """The typed fabric settings: the record resolve parsed once and put on the model
    (``Lab.addons``); None for a lab resolve did not plan (its settings were wrong)."""
    planned = lab.addon("fabric")
    return None if planned is None else planned.settings


def parse_fabric_settings(lab: Lab, extra: Mapping[str, Any]
                          ) -> tuple[FabricSettings | None, list[Issue]]:
    """The fabric's keys of the blueprint's ``extra:`` as the typed settings, checked against
    the lab's networks, or the problems (resolve's plan calls this, once)."""
    try:
        settings = FabricSettings.model_validate(fabric_source(extra))
    except ValidationError as exc:
        return None, validation_issues(exc, FabricSettings, ("extra",))
    taken = {n.vlan: n.name for n in lab.networks if n.vlan is not None}
    clash = sorted(set(settings.provider_vlans) & set(taken))
    if clash:
        return None, [(("extra", "provider_vlans"), f"VLAN {clash[0]} is network "
                       f"'{taken[clash[0]]}'s VLAN", "keep provider VLANs apart from the "
                       f"lab's ({compress_vlans(taken)})")]
    return settings, []
