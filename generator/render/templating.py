"""The bootstrap's Jinja templates (``generator/templates/bootstrap``), rendered strictly: an
unknown name is an error, and no value may break out of its line."""

from __future__ import annotations

import functools
import re
import shlex
from typing import Any

import jinja2

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@functools.cache
def _one_line(value: Any) -> Any:
    """Every value a template writes stays on its line: dnsmasq, nftables, systemd units and
    shell comments have no quoting for a newline, so one would start a new directive. The
    resolver refuses such names; this is the renderer's own guard."""
    if isinstance(value, str) and CONTROL_RE.search(value):
        raise ValueError(f"refusing to render {value!r} into a generated config")
    return value


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("generator", "templates/bootstrap"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False,
                             comment_start_string="{#-#", comment_end_string="#-#}",  # ${#a}
                             finalize=_one_line)
    env.filters["q"] = shlex.quote
    return env


def render_template(template: str, **context: Any) -> bytes:
    return _env().get_template(template).render(**context).encode()
