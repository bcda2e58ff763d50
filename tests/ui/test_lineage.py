"""The lineage picture: what a person sees, expands and exports."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.server import Server
from tests.ui.conftest import ARTIFACTS, sign_in


def _open_deployment(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="housing-prod").click()


def test_a_deployments_page_draws_what_stands_behind_it(page: Page, gateway: Server) -> None:
    _open_deployment(page, gateway)
    graph = page.locator("section.card").get_by_role("img", name="lineage graph")
    for label in (
        "Deployment housing-prod",
        "Model housing-gbr",
        "Featureset housing-features-v1",
        "Dataset california-housing",
        "Run gbr-trial-2",
    ):
        expect(graph.get_by_role("button", name=label, exact=True)).to_be_visible()

    # Laid out in layers by depth: the deployment rightmost, its dataset further left than its featureset.
    def left(label: str) -> float:
        box = graph.get_by_role("button", name=label, exact=True).bounding_box()
        assert box is not None
        return box["x"]

    assert left("Dataset california-housing") < left("Featureset housing-features-v1") < left("Deployment housing-prod")
    expect(page.locator(".truncated")).to_have_count(0)
    # The README's picture of the UI (ui/screenshot.png is a copy of this one).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "readme.png"), full_page=True)


def test_a_node_opens_from_the_picture_and_expands_in_place(page: Page, gateway: Server) -> None:
    _open_deployment(page, gateway)
    page.get_by_role("link", name="Lineage").click()
    expect(page).to_have_url(re.compile(r"/node/[A-Za-z0-9_-]+/lineage"))
    page.get_by_label("Direction").select_option("upstream")
    page.get_by_label("Depth").fill("1")
    graph = page.get_by_role("img", name="lineage graph")
    expect(graph.get_by_role("button", name="Dataset california-housing", exact=True)).to_have_count(0)
    featureset = graph.get_by_role("button", name="Featureset housing-features-v1")
    featureset.click()
    page.get_by_role("button", name="Expand here").click()
    expect(
        graph.get_by_role("button", name="Dataset california-housing", exact=True)
    ).to_be_visible()  # the featureset's own upstream

    graph.get_by_role("button", name="Dataset california-housing", exact=True).click()
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("california-housing")


def test_the_picture_exports_as_svg_and_graphviz_dot(page: Page, gateway: Server, tmp_path: Path) -> None:
    _open_deployment(page, gateway)
    page.get_by_role("link", name="Lineage").click()
    expect(page.get_by_role("img", name="lineage graph").get_by_role("button", name="Model housing-gbr")).to_be_visible()
    with page.expect_download() as svg_download:
        page.get_by_role("button", name="Export SVG").click()
    svg = Path(svg_download.value.path()).read_text()
    with page.expect_download() as dot_download:
        page.get_by_role("button", name="Export DOT").click()
    dot = Path(dot_download.value.path()).read_text()

    assert svg_download.value.suggested_filename == "lineage.svg"
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
    assert "housing-gbr" in svg and "california-housing" in svg
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert re.search(r'\[label="Model\\nhousing-gbr", fillcolor="#b54708"\]', dot), dot
    assert dot.count(" -> ") >= 5


def test_a_walk_cut_by_its_node_limit_says_so(page: Page, gateway: Server) -> None:
    _open_deployment(page, gateway)
    page.get_by_role("link", name="Lineage").click()
    page.get_by_label("Node limit").fill("2")
    expect(page.get_by_role("status")).to_contain_text("truncated")
