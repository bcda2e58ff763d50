"""A pipeline run's steps on a time line, a step's page, and training curves: a run's
own and the compared runs' overlaid."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.server import Server
from tests.ui.conftest import sign_in


def _id(gateway: Server, query: str) -> str:
    found = gateway.gql(query)
    return str(next(iter(found.values()))["nodes"][0]["id"])


def test_a_pipeline_runs_steps_are_drawn_on_a_time_line_and_open_their_pages(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    pipeline = _id(gateway, '{ search(text: "housing-nightly", kinds: [STEP]) { nodes { id } } }')
    page.goto(f"/node/{pipeline}")
    timeline = page.get_by_role("img", name="the pipeline run's steps over time")
    bars = timeline.locator("g[data-step]")
    expect(bars).to_have_count(7)
    # In the order they started, fetch to deploy; each bar says its phase, state and length.
    assert [b.get_attribute("data-step") for b in bars.all()] == [
        "fetch-census",
        "clean",
        "prepare-features",
        "train",
        "evaluate",
        "validate",
        "deploy",
    ]
    expect(timeline.locator("g[data-step=train] title")).to_have_text("train: train, succeeded, 74 min")
    page.locator("#steps").get_by_role("link", name=re.compile(r"\bclean$")).click()
    expect(page.get_by_role("heading", name="clean")).to_be_visible()
    expect(page.locator("#inputDatasets")).to_contain_text("california-housing-raw")
    expect(page.locator("#outputDatasets")).to_contain_text("california-housing")
    expect(page.locator("#parent")).to_contain_text("housing-nightly")
    # Only the kinds of assets it touched are listed.
    expect(page.locator("#inputModels")).to_have_count(0)


def test_a_run_shows_its_training_curve_and_compared_runs_overlay_theirs(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="housing-gbr").first.click()
    page.get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("link", name="gbr-trial-2").click()
    page.get_by_label("curve metric").select_option("rmse")
    curve = page.get_by_role("img", name="rmse over training")
    expect(curve.locator("path.curve")).to_have_count(1)
    expect(curve.locator("path.curve title")).to_have_text("gbr-trial-2: 50 points")
    expect(curve).to_contain_text("step 50")

    page.go_back()
    page.get_by_label("charted metric").select_option("rmse")
    page.get_by_label("compare gbr-trial-1").check()
    page.get_by_label("compare gbr-trial-3").check()
    page.get_by_role("button", name=re.compile(r"Compare \d runs")).click()
    overlaid = page.get_by_role("img", name="rmse over training, compared")
    expect(overlaid.locator("path.curve")).to_have_count(2)
    assert sorted(p.get_attribute("data-series") or "" for p in overlaid.locator("path.curve").all()) == [
        "gbr-trial-1",
        "gbr-trial-3",
    ]
    expect(page.locator(".legend")).to_contain_text("gbr-trial-1")
