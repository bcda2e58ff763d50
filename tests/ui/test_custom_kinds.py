"""Nodes of the demo's declared kinds in the web UI: a drift report's page, and its
lineage drawn back through the deployment to the source system the raw data came from."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.server import Server
from tests.ui.conftest import sign_in


def test_a_drift_reports_lineage_runs_back_to_the_declared_source_of_the_raw_data(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    found = gateway.gql('{ customNodes(kind: "drift_report", first: 1) { nodes { id name } } }')
    [report] = found["customNodes"]["nodes"]
    page.goto(f"/node/{report['id']}")
    expect(page.get_by_role("heading", name=report["name"])).to_be_visible()
    expect(page.get_by_text("drift_report", exact=True)).to_be_visible()
    page.get_by_role("link", name="Lineage").click()
    expect(page.get_by_role("heading", name="Lineage of")).to_be_visible()
    page.goto(f"/node/{report['id']}/lineage?direction=UPSTREAM&depth=8")
    source = page.locator("g[data-kind=CustomNode]", has_text="us-census-1990")
    expect(source).to_have_count(1)
    expect(source).to_contain_text("source_system")
    raw = page.locator("g[data-kind=Dataset]", has_text="california-housing-raw")
    # What a node was derived from stands left of it: the source, left of the raw extract.
    source_box, raw_box = source.bounding_box(), raw.bounding_box()
    assert source_box is not None and raw_box is not None and source_box["x"] < raw_box["x"]
