"""The information hub in the web UI: a project's serving, models, versions and jobs, and
the model zoo, on the demo pipeline."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.server import Server
from tests.ui.conftest import sign_in


def test_a_projects_hub_shows_what_serves_its_versions_and_its_jobs(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name=re.compile("housing-prices")).first.click()
    page.get_by_role("link", name="Hub", exact=True).click()
    expect(page).to_have_url(re.compile(r"/node/[^/]+/hub$"))
    expect(page.get_by_role("heading", name="housing-prices")).to_be_visible()

    serving = page.locator("table.serving-status tbody tr")
    expect(serving).to_have_count(1)
    expect(serving.first).to_contain_text("housing-prod")
    expect(serving.first.locator("td").nth(1)).to_have_text("100%")
    expect(serving.first.locator("td").nth(2)).to_have_text("2")  # the champion it serves
    expect(page.locator("ol.history")).to_contain_text("housing-prod 100%")

    card = page.locator(".model-card", has=page.get_by_role("link", name="housing-gbr"))
    expect(card).to_contain_text("regression")
    expect(card).to_contain_text("m5.large, 2 CPU, 8 GB, x2")
    versions = card.locator("table.versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("champion")
    expect(versions.nth(0)).to_contain_text("listed")
    expect(versions.nth(0)).to_contain_text("housing-prod")
    expect(versions.nth(1)).to_contain_text("fallback")

    jobs = page.locator("table.jobs tbody tr")
    expect(jobs).to_have_count(2)
    expect(page.locator("table.jobs")).to_contain_text("SUCCEEDED")
    replay = jobs.filter(has_text="PENDING")
    expect(replay.get_by_role("link", name="original")).to_be_visible()
    replay.get_by_role("link", name="original").click()
    expect(page.locator(".fields").first).to_contain_text("SUCCEEDED")
    expect(page.locator(".neighbours")).to_contain_text("gbr-trial-2")  # the run it produced


def test_the_model_zoo_lists_the_served_champion_and_filters(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="Model zoo").click()
    rows = page.locator("table.zoo tbody tr")
    expect(rows).to_have_count(1)  # the champion, served; the fallback is neither
    expect(rows.first).to_contain_text("housing-gbr")
    expect(rows.first).to_contain_text("champion")
    expect(rows.first).to_contain_text("s3://models/housing-gbr/trial-2/")
    expect(rows.first).to_contain_text("8 inputs")
    expect(rows.first).to_contain_text("rmse 0.471")
    expect(rows.first).to_contain_text("housing-prod")

    page.get_by_label("framework").fill("pytorch")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/zoo\?framework=pytorch$"))
    expect(page.get_by_text("No production-ready model matches.")).to_be_visible()
    page.get_by_label("framework").fill("scikit-learn")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
