"""The clients' user-defined kinds against a real gateway: kinds declared, a node of one
logged with its links, and lineage through them."""

from __future__ import annotations

import pytest

from metagate_client import AsyncClient, BadInput, Client, Link, NotFound
from tests.server import Server


def test_a_declared_source_is_logged_with_its_link_and_lineage_reaches_it(mg: Client, unique: str) -> None:
    source_kind, edge = f"source_{unique}", f"dataset_source_{unique}"
    assert mg.declare_node_kind(source_kind, schema={"type": "object", "required": ["system"]}) is True
    assert mg.declare_node_kind(source_kind, schema={"type": "object", "required": ["system"]}) is False
    assert mg.declare_edge_kind(edge, "dataset", source_kind, upstream="to") is True
    dataset = mg.register_dataset(f"raw-{unique}")
    source = mg.log_custom_node(source_kind, "warehouse", links=[Link(edge, source=dataset)], attributes={"system": "pg"})
    assert (source.kind, source.name, source.created, source.attributes) == ("custom", "warehouse", True, {"system": "pg"})
    assert mg.link_nodes(edge, dataset, source) is False  # logged with it already
    lineage = mg.lineage(dataset, "upstream")
    assert [entry.asset.id for entry in lineage.nodes] == [source.id]
    with pytest.raises(BadInput, match="'system' is a required property"):
        mg.log_custom_node(source_kind, "lake", attributes={})
    with pytest.raises(NotFound):
        mg.log_custom_node(f"nothing_{unique}", "lake")
    with pytest.raises(BadInput, match="upstream"):
        mg.declare_edge_kind(f"bad_{unique}", "dataset", "dataset", upstream="sideways")


async def test_the_async_client_declares_and_logs_too(gateway: Server, unique: str) -> None:
    async with AsyncClient(gateway.url, gateway.token, retries=1) as amg:
        assert await amg.declare_node_kind(f"report_{unique}") is True
        assert await amg.declare_edge_kind(f"about_{unique}", f"report_{unique}", "dataset", upstream="to") is True
        dataset = await amg.register_dataset(f"scored-{unique}")
        report = await amg.log_custom_node(f"report_{unique}", "weekly", links=[Link(f"about_{unique}", target=dataset)])
        assert report.created is True
        downstream = await amg.lineage(dataset, "downstream")
        assert [entry.asset.id for entry in downstream.nodes] == [report.id]
