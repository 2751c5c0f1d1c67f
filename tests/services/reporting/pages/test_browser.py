"""The intranet page in a real browser (acceptance): Debian's chromium, driven headless by Selenium through
Debian's chromedriver, against the reporting service under uvicorn over the scripted history, with keys checked
by the real commitments service.

- the page loads after signing in through the form (typed and sent from the keyboard);
- a screenshot of the whole page is kept: test-artifacts/dashboard.png (and of the form, connexion.png, and
  the printed pack, comite-de-pilotage.pdf);
- axe-core (from the npm registry: node/package.json, installed by make env-dev) finds no serious or critical
  violation, on the form and on the page;
- printed, the page has no navigation and one section per partner, each starting a page;
- a partner's page has no serious or critical violation either; signing out leads back to the form;
- Tab alone reaches every link and control, in the page's order, each with a visible focus; the skip link
  leads to the content.

chromium and chromium-driver are installed by `make env-dev` (SYSTEM_PACKAGES), and axe-core by its `npm ci`;
missing, the test is skipped on a developer's machine and fails under CI=true."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from shared.bus import StreamSpec
from tests.ports import free_port
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.pages.served_pages import PAGE, NewDatabase, history
from tests.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).parent / "node/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts"
TIMEOUT = 30


def need_browser() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER, AXE) if not path.is_file()]
    if missing:
        message = (
            f"{', '.join(missing)} missing (Debian's chromium and chromium-driver, and axe-core from npm: "
            "make env-dev)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def chromium() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=fr-FR",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app under uvicorn on a free port, in this event loop (the browser is driven from a thread)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), "the reporting service to start", timeout=30)
    assert not task.done(), "the reporting service did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def h1(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def wait_for_heading(driver: WebDriver, heading: str) -> None:
    """Wait until the page's h1 reads `heading`; an element of the page being left goes stale: read again."""
    WebDriverWait(driver, TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: h1(d) == heading
    )


def serious_violations(driver: WebDriver) -> list[str]:
    """axe-core's serious and critical violations of the page (WCAG 2.0, 2.1 A and AA rules and best
    practices), one line each."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(done, error => done({error: String(error)}));"
    )
    assert "error" not in results, results
    assert results["passes"], "axe-core ran no check"
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        f"{[node['target'] for node in violation['nodes']]}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def sign_in(driver: WebDriver, base_url: str, secret: str) -> None:
    """As a person does: the page sends to the form; the key typed, then Enter."""
    driver.get(f"{base_url}{PAGE}")
    wait_for_heading(driver, "Connexion au tableau de bord")
    assert driver.current_url.endswith("/tableau-de-bord/connexion")
    violations = serious_violations(driver)
    assert not violations, violations
    screenshot(driver, "connexion.png")
    field = driver.find_element(By.ID, "cle")
    field.send_keys(secret)
    field.send_keys(Keys.ENTER)
    wait_for_heading(driver, "Tableau de bord des engagements")


def keep(name: str, content: bytes) -> Path:
    """An artifact written whole (the SQLite and PostgreSQL runs of the test may write theirs at once, in two
    pytest-xdist workers): the last one written stays."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    partial = path.with_name(f".{name}.{os.getpid()}")
    partial.write_bytes(content)
    partial.replace(path)
    return path


def screenshot(driver: WebDriver, name: str) -> Path:
    """The whole page, as tall as it is."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, int(height) + 100)
    png = driver.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG"), "no screenshot"
    path = keep(name, png)
    driver.set_window_size(1280, 900)
    print(f"\nscreenshot: {path}")
    return path


# Every element Tab may reach, in document order (the page sets no positive tabindex).
FOCUSABLE = """
const selector = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea,'
               + ' [tabindex]:not([tabindex="-1"])';
const found = Array.from(document.querySelectorAll(selector)).filter(el => el.getClientRects().length > 0);
found.forEach((el, index) => el.setAttribute('data-ordre', String(index)));
return found.length;
"""
ACTIVE = """
const el = document.activeElement;
const style = getComputedStyle(el);
return [el.getAttribute('data-ordre'), el.tagName, style.outlineStyle, parseFloat(style.outlineWidth)];
"""


def tab_through(driver: WebDriver) -> tuple[int, list[str], list[str]]:
    """Tab from the top of the page until focus leaves it: the elements reached, in order, and those reached
    without a visible outline."""
    count = int(driver.execute_script(FOCUSABLE))
    reached: list[str] = []
    unmarked: list[str] = []
    body = driver.find_element(By.TAG_NAME, "body")
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
    for _ in range(count * 4 + 10):  # a date field takes one Tab per part (day, month, year)
        webdriver.ActionChains(driver).send_keys(Keys.TAB).perform()
        order, tag, outline, width = driver.execute_script(ACTIVE)
        if order is None:  # back to the browser's own controls, or nowhere: the page is done
            if reached:
                break
            continue
        if not reached or reached[-1] != order:
            reached.append(order)
            if outline == "none" or width < 2:
                unmarked.append(f"{tag} #{order}")
    assert body is not None
    return count, reached, unmarked


async def test_the_dashboard_in_chromium(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    need_browser()
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        partners = ["Bailleur A", "Territoire B"]
        async with serving(served.app()) as base_url:

            def browse() -> None:
                with chromium() as driver:
                    sign_in(driver, base_url, served.keys["admin"][1])
                    assert "Demande i4" in driver.page_source and "Territoire B" in driver.page_source
                    assert len(driver.find_elements(By.CSS_SELECTOR, ".graphique svg rect.barre")) == 2
                    assert screenshot(driver, "dashboard.png").stat().st_size > 10_000

                    violations = serious_violations(driver)
                    assert not violations, violations

                    count, reached, unmarked = tab_through(driver)
                    assert reached == [str(index) for index in range(count)], (count, reached)
                    assert not unmarked, unmarked
                    # The skip link comes first and leads into the content.
                    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
                    webdriver.ActionChains(driver).send_keys(Keys.TAB).perform()
                    assert driver.switch_to.active_element.text == "Aller au contenu"
                    webdriver.ActionChains(driver).send_keys(Keys.ENTER).perform()
                    assert driver.switch_to.active_element.get_attribute("id") == "contenu"

                    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
                    printed = driver.execute_script("""
                        const shown = el => Boolean(el) && el.getClientRects().length > 0;  // rendered at all
                        return {
                          nav: Array.from(document.querySelectorAll('nav')).some(shown),
                          forms: Array.from(document.querySelectorAll('form')).some(shown),
                          sections: Array.from(document.querySelectorAll('section.fiche')).map(el => [
                            el.querySelector('h3').textContent, getComputedStyle(el).breakBefore, shown(el)]),
                          figures: shown(document.querySelector('.chiffres-graphique caption')),
                        };""")
                    assert printed["nav"] is False and printed["forms"] is False
                    assert printed["sections"] == [[name, "page", True] for name in partners]
                    assert printed["figures"] is True
                    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
                    pdf = driver.execute_cdp_cmd(
                        "Page.printToPDF", {"printBackground": False, "preferCSSPageSize": True}
                    )
                    printed_pack = base64.b64decode(pdf["data"])
                    pack = keep("comite-de-pilotage.pdf", printed_pack)
                    # The pack: the overview, then pages of its own for each partner (the page tree's count).
                    pages = re.search(
                        rb"/Type\s*/Pages\b[^>]*?/Count (\d+)|/Count (\d+)[^>]*?/Type\s*/Pages\b",
                        printed_pack,
                    )
                    assert pages is not None and int(pages.group(1) or pages.group(2)) >= 1 + len(partners)
                    print(f"printed pack: {pack}")

                    # A partner's page, followed from the overview, is as accessible; signing out ends there.
                    driver.find_element(By.LINK_TEXT, "Page de Territoire B").click()
                    wait_for_heading(driver, "Territoire B")
                    violations = serious_violations(driver)
                    assert not violations, violations
                    driver.find_element(By.XPATH, "//button[text()='Se déconnecter']").click()
                    wait_for_heading(driver, "Connexion au tableau de bord")
                    driver.get(f"{base_url}{PAGE}")
                    assert h1(driver) == "Connexion au tableau de bord"

            await asyncio.to_thread(browse)
