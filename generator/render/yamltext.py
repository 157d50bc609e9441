"""The one YAML writer of every rendered document (pure): cloud-init seeds, the bootstrap's
Ansible files and the add-ons' output.

Two styles, both deterministic (no aliases, keys in the order given unless sorted):

- :func:`dump_yaml`, plain block YAML with long lines kept whole (cloud-init's documents);
- :func:`dump_ansible_yaml`, the way ansible-lint wants it: sequences indented under their key,
  short lists of scalars on one line (``[10, 20]``), multi-line strings as ``|`` blocks;
  :func:`generated_yaml` is that, sorted, under the bootstrap's one-line header.
"""

from __future__ import annotations

from typing import Any

import yaml

GENERATED = "# gns3lab: generated from the blueprint.\n"
#: A list of scalars stays on one line up to this many characters (its items plus ", ").
FLOW_LIST_CHARS = 72


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


class _AnsibleDumper(_PlainDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(isinstance(v, (int, float, bool, str)) for v in value) and \
        sum(len(str(v)) + 2 for v in value) <= FLOW_LIST_CHARS  # one line, even when nested
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    block = "\n" in value.rstrip("\n") and all(line == line.rstrip()
                                               for line in value.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if block else None)  # a script reads as one


_AnsibleDumper.add_representer(list, _represent_list)
_AnsibleDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Deterministic, readable YAML (keys in the order given, no aliases, long lines whole)."""
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False,
                     width=4096, allow_unicode=True)


def dump_ansible_yaml(data: Any, sort_keys: bool = False) -> str:
    """YAML the way ansible-lint wants it: sequences indented under their key, no aliases, keys
    in the order given (or sorted); short lists of scalars stay on one line (``[10, 20]``)."""
    return yaml.dump(data, Dumper=_AnsibleDumper, sort_keys=sort_keys, default_flow_style=False,
                     width=100, allow_unicode=True)


def generated_yaml(data: Any) -> bytes:
    """Sorted ansible-lint YAML under the bootstrap's header (inventory, group_vars)."""
    return (GENERATED + dump_ansible_yaml(data, sort_keys=True)).encode()


def ansible_document(header: str, data: Any) -> bytes:
    """An add-on's file: ``---``, its header comment lines, then the data in ansible-lint YAML."""
    return ("---\n" + header + dump_ansible_yaml(data)).encode()
