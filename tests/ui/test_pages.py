"""What a person sees in the web UI, page by page."""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.server import TOKEN, Server
from tests.ui.conftest import HOSTILE, sign_in


def test_a_newcomer_signs_in_with_the_printed_token_and_sees_what_the_pipeline_recorded(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    sign_in(page, gateway.token)

    projects = page.locator("section", has=page.get_by_role("heading", name="Projects"))
    row = projects.get_by_role("row", name=re.compile("housing-prices"))
    expect(row).to_contain_text("housing-prices")
    expect(row.locator("td").nth(2)).to_have_text("3")  # runs
    deployments = page.locator("section", has=page.get_by_role("heading", name="Deployments"))
    expect(deployments).to_contain_text("housing-prod")
    expect(deployments).to_contain_text("rmse 0.57")  # its latest serving period
    runs = page.locator("section", has=page.get_by_role("heading", name="Latest runs"))
    expect(runs.get_by_role("link", name="gbr-trial-3")).to_be_visible()


def test_a_wrong_token_is_refused_and_says_why(page: Page) -> None:
    page.goto("/signin")
    page.get_by_label("API token").fill("mg_not_a_token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("UNAUTHENTICATED")
    expect(page).to_have_url(re.compile("/signin"))


def test_the_token_is_kept_for_the_tab_only_and_sign_out_forgets_it(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    assert page.evaluate("Object.keys(localStorage).filter(k => localStorage.getItem(k).includes('mg_'))") == []
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    page.goto("/search")
    expect(page).to_have_url(re.compile("/signin"))


def test_search_by_name_and_kind_opens_a_nodes_page_at_a_stable_url(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_label("Search by name").fill("housing")
    page.get_by_label("Search by name").press("Enter")
    results = page.locator("table.results")
    expect(results).to_contain_text("california-housing")
    expect(results).to_contain_text("housing-prod")

    page.get_by_label("dataset", exact=True).check()
    page.get_by_role("button", name="Search").click()
    expect(results.locator("tbody tr")).to_have_count(2)  # and the raw extract the demo's fetch step wrote
    results.get_by_role("link", name=re.compile("california-housing$")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("california-housing")
    expect(page.locator(".fields").first).to_contain_text("20640")  # its attributes
    url = page.url
    assert re.search(r"/node/[A-Za-z0-9_-]+$", url), url
    page.goto(url)  # pasted into a new page: the same node
    expect(page.get_by_role("heading", level=1)).to_have_text("california-housing")
    page.get_by_role("link", name=re.compile("housing-features-v1")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("housing-features-v1")


def test_a_deployments_card_shows_what_stands_behind_it_and_how_it_served(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="housing-prod").click()
    card = page.locator("section.card")
    expect(card).to_contain_text("california-housing")
    expect(card).to_contain_text("housing-features-v1")
    expect(card).to_contain_text("housing-gbr")
    expect(card).to_contain_text("gbr-trial-2")  # the run carrying its deployment tag
    expect(card).to_contain_text('"max_depth": 5')
    chart = card.get_by_role("img", name=re.compile("over serving periods"))
    expect(chart.locator("circle")).to_have_count(3)
    expect(card.locator("table.periods tbody tr")).to_have_count(3)


def test_a_hostile_name_is_shown_as_the_characters_it_is(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.goto("/search?text=onerror")
    link = page.locator("table.results").get_by_role("link")
    expect(link).to_contain_text(HOSTILE)
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE)
    expect(page.locator(".tags")).to_have_text(HOSTILE)
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.seen.dialogs == []  # type: ignore[attr-defined]


def test_graphiql_runs_offline_with_the_token_of_the_sign_in(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="GraphiQL").click()
    page.get_by_role("button", name="Headers").click()
    expect(page.locator(".graphiql-editor-tool")).to_contain_text(f"Bearer {gateway.token}")
    page.get_by_role("button", name=re.compile("Execute query")).click()
    expect(page.locator(".result-window")).to_contain_text("housing-prod", timeout=15000)
    # GraphiQL's history keeps the query run with its headers: in this tab only.
    kept = page.evaluate("Object.keys(localStorage).filter(k => localStorage.getItem(k).includes('mg_'))")
    assert kept == []


def test_a_kind_filtered_with_where_in_the_apis_language_and_a_bad_filter_says_why(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    sign_in(page, gateway.token)
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("where kind").select_option("dataset")
    # The hostile dataset is found by its tag, california-housing (and its raw extract) by name: OR.
    page.get_by_label("where", exact=True).fill(
        '{"OR": [{"name": {"contains": "california"}}, {"tags": {"startsWith": "<img"}}]}'
    )
    page.get_by_role("button", name="Filter").click()
    results = page.locator("section.where table.results tbody tr")
    expect(results).to_have_count(3)
    expect(page.locator("section.where")).to_contain_text("california-housing")
    expect(page.locator("section.where")).to_contain_text(HOSTILE)

    page.get_by_label("where", exact=True).fill('{"AND": [{"name": {"contains": "california"}}, {"tags": {"eq": "none"}}]}')
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("section.where")).to_contain_text("Nothing matches.")

    page.get_by_label("where", exact=True).fill('{"colour": {"eq": "red"}}')
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("section.where").get_by_role("alert")).to_contain_text("BAD_USER_INPUT")

    page.get_by_label("where", exact=True).fill("{not json")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("section.where").get_by_role("alert")).to_contain_text("where is not JSON")


def test_after_sign_in_only_a_path_of_this_site_is_followed(page: Page, gateway: Server) -> None:
    assert gateway.token is not None
    for elsewhere in ("//example.com/x", "/\\example.com/x", "/\t/example.com/x", "https://example.com/"):
        page.goto(f"/signin?next={quote(elsewhere)}")
        page.get_by_label("API token").fill(gateway.token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Projects").wait_for()
        assert page.url == f"{gateway.url}/", page.url


def test_a_reader_token_signs_in_and_reads_everything(page: Page, gateway: Server) -> None:
    import subprocess
    import sys

    made = subprocess.run(
        [sys.executable, "-m", "metagate", "token", "create", "--name", "ui-reader", "--role", "reader"]
        + ["--store", str(gateway.store)],  # type: ignore[attr-defined]
        check=True,
        capture_output=True,
        text=True,
    )
    reader = TOKEN.search(made.stdout)
    assert reader is not None, made.stdout
    sign_in(page, reader.group(0))
    page.get_by_role("link", name="housing-prod").click()
    expect(page.locator("section.card")).to_contain_text("california-housing")
    expect(page.locator("section.card").get_by_role("img", name="lineage graph")).to_be_visible()
