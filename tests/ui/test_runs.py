"""A model's runs: sorted, filtered, charted and compared."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.server import Server
from tests.ui.conftest import sign_in


def _runs_of_the_model(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="housing-gbr").first.click()
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("Runs of"))).to_contain_text("housing-gbr")


def _names(page: Page) -> list[str]:
    return [name.strip() for name in page.locator("table.runs tbody tr td:nth-child(2) a").all_inner_texts()]


def test_runs_sort_by_a_metric_both_ways_and_the_deployed_run_is_marked(page: Page, gateway: Server) -> None:
    _runs_of_the_model(page, gateway)
    rmse = page.locator("table.runs thead").get_by_role("button", name=re.compile("rmse"))
    rmse.click()
    expect(page.locator("table.runs thead th[aria-sort=ascending]")).to_contain_text("rmse")
    assert _names(page) == ["gbr-trial-2", "gbr-trial-3", "gbr-trial-1"]  # rmse 0.471, 0.498, 0.542
    rmse.click()
    assert _names(page) == ["gbr-trial-1", "gbr-trial-3", "gbr-trial-2"]
    deployed = page.locator("table.runs tbody tr.deployed")
    expect(deployed).to_have_count(1)
    expect(deployed).to_contain_text("gbr-trial-2")
    expect(deployed.locator(".deployed-mark")).to_have_text("deployed")


def test_runs_filter_by_a_param_and_a_metric_and_chart_a_metric(page: Page, gateway: Server) -> None:
    _runs_of_the_model(page, gateway)
    page.get_by_label("charted metric").select_option("rmse")
    expect(page.get_by_role("img", name="rmse across runs").locator("circle")).to_have_count(3)
    page.get_by_role("button", name="Add a condition").click()
    page.get_by_label("filter column").select_option(label="metric rmse")
    page.get_by_label("filter operator").select_option("<")
    page.get_by_label("filter value").fill("0.5")
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    expect(page.get_by_role("img", name="rmse across runs").locator("circle")).to_have_count(2)
    page.get_by_role("button", name="Add a condition").click()
    page.get_by_label("filter column").nth(1).select_option(label="param max_depth")
    page.get_by_label("filter operator").nth(1).select_option("=")
    page.get_by_label("filter value").nth(1).fill("5")
    assert _names(page) == ["gbr-trial-2"]


def test_two_runs_compared_side_by_side_show_what_differs(page: Page, gateway: Server) -> None:
    _runs_of_the_model(page, gateway)
    compare = page.get_by_role("button", name=re.compile(r"Compare \d runs"))
    expect(compare).to_be_disabled()
    page.get_by_label("compare gbr-trial-1").check()
    page.get_by_label("compare gbr-trial-2").check()
    expect(compare).to_be_enabled()
    compare.click()
    table = page.locator("table.compare")
    expect(table.locator("thead th")).to_have_count(3)
    expect(table.locator("thead")).to_contain_text("deployed")
    status = table.locator("tr", has=page.locator("th", has_text=re.compile("^status$")))
    expect(status).not_to_have_class("differs")  # both COMPLETED
    rmse = table.locator("tr", has=page.locator("th", has_text="metric rmse"))
    expect(rmse).to_have_class("differs")
    expect(rmse).to_contain_text("0.542")
    expect(rmse).to_contain_text("0.471")
