"""Push order against a real GNS3 server (split from tests/unit/test_push_order.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from generator.server.consoles import PushEvent
from generator.server.push import push_archive, read_archive
from tests.helpers import link_image
from tests.integration.test_push_images import credentials, remove, tiny_lab
from tests.support.gns3server import Gns3Server
from tests.unit.test_push_order import (
    _QEMU_START,
    BLUEPRINT,
    EXPECTED,
)

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_push_starts_in_stage_order_then_stops_and_deletes(gns3_server: Gns3Server,
                                                           tmp_path: Path) -> None:
    name = f"order-{uuid.uuid4().hex[:6]}"
    built, image = tiny_lab(tmp_path, BLUEPRINT.format(name=name))
    link_image(image, gns3_server.images_dir)
    facts = read_archive(built.archive)
    assert [n["name"] for n in facts.project["topology"]["nodes"]] != EXPECTED
    log_start = gns3_server.log_path.stat().st_size
    events: list[PushEvent] = []
    try:
        result = push_archive(built.archive, gns3_server.url, name=name, start=True,
                              progress=events.append, **credentials(gns3_server))
        assert result.order == EXPECTED
        assert [e.node for e in events if e.kind == "started"] == EXPECTED
        with gns3_server.log_path.open(errors="replace") as log:
            log.seek(log_start)
            seen = _QEMU_START.findall(log.read())
        assert seen == EXPECTED, seen
        client = gns3_server.client
        assert {n["name"]: n["status"] for n in client.nodes(result.project_id)} == \
            dict.fromkeys(EXPECTED, "started")

        stopped = push_archive(built.archive, gns3_server.url, name=name, stop=True,
                               **credentials(gns3_server))
        assert stopped.stopped and not stopped.deleted
        assert {n["status"] for n in client.nodes(result.project_id)} == {"stopped"}

        deleted = push_archive(built.archive, gns3_server.url, name=name, delete=True,
                               **credentials(gns3_server))
        assert deleted.deleted
        assert client.find_project(name) is None
        assert result.project_id not in {p["project_id"] for p in client.projects()}
        if gns3_server.version == "2.2":  # 3.0 removes the folder some time after answering
            assert not (gns3_server.projects_dir / result.project_id).exists()
    finally:
        remove(gns3_server, name)
