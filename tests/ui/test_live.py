"""Pages that hear changes as they are logged: a model's runs page shows a run logged
while it is open, and a deployment's card a serving period, without a reload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.server import LOG_RUN, Server, pipeline_ids
from tests.ui.conftest import sign_in

SERVE = """mutation($m: ID!, $f: ID!, $p: ID!) {
  registerDeployment(input: {name: "live-prod", modelId: $m, featuresetId: $f, modelParamsId: $p}) { deployment { id } } }"""
SERVING = """mutation($d: ID!, $s: DateTime!, $e: DateTime!, $a: Float!) {
  logServingPerf(input: {deploymentId: $d, periodStart: $s, periodEnd: $e, metrics: {accuracy: $a}}) { servingPerf { id } } }"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Its own gateway: the runs logged here would change what the other pages show.
    server = Server(tmp_path_factory.mktemp("live") / "live.db")
    yield server
    server.stop()


def test_a_run_logged_while_its_models_runs_page_is_open_appears_there(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    ids = pipeline_ids(gateway)
    gateway.gql(LOG_RUN, n="logged-before", **ids)
    sign_in(page, gateway.token)
    page.goto(f"/node/{ids['m']}/runs")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator(".live-state")).to_have_text("live: new ones appear as they are logged")
    gateway.gql(LOG_RUN, n="logged-while-open", **ids)
    expect(rows).to_have_count(2)
    expect(page.locator("table.runs tbody")).to_contain_text("logged-while-open")
    gateway.gql(LOG_RUN, n="and-another", **ids)
    expect(rows).to_have_count(3)


def test_a_serving_period_logged_while_a_deployments_page_is_open_joins_its_chart(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    ids = pipeline_ids(gateway)
    logged = gateway.gql(LOG_RUN, n="served", **ids)["logRun"]["run"]["id"]
    params = gateway.gql("query($r: ID!) { node(id: $r) { ... on Run { modelParams { id } } } }", r=logged)
    deployment = gateway.gql(SERVE, m=ids["m"], f=ids["f"], p=params["node"]["modelParams"]["id"])
    d = deployment["registerDeployment"]["deployment"]["id"]
    gateway.gql(SERVING, d=d, s="2026-11-01T00:00:00Z", e="2026-11-08T00:00:00Z", a=0.91)
    sign_in(page, gateway.token)
    page.goto(f"/node/{d}")
    periods = page.locator("table.periods tbody tr")
    expect(periods).to_have_count(1)
    expect(page.locator(".live-state")).to_have_text("live: new ones appear as they are logged")
    gateway.gql(SERVING, d=d, s="2026-11-08T00:00:00Z", e="2026-11-15T00:00:00Z", a=0.87)
    expect(periods).to_have_count(2)
    expect(page.locator("table.periods tbody")).to_contain_text("0.87")
