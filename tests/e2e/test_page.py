"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) against the real service on 127.0.0.1, with every other host unreachable."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from sentiment.model.folder import save_model
from sentiment.model.predictor import Predictor
from sentiment.model.version import folder_md5
from sentiment.serving.auth import hash_key
from sentiment.serving.schemas import Limits
from sentiment.serving.service import create_app
from tests.conftest import REPO_ROOT
from tests.sentiment.conftest import serving
from tests.sentiment.test_model_artifact import fit

pytestmark = pytest.mark.slow

ARTIFACTS = REPO_ROOT / "test-artifacts"  # git-ignored: screenshots for a human to look at
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FIRST_LOAD_LIMIT = 200_000  # bytes of HTML + assets
TEXTS = ["great flight, friendly crew", "lost my bag again"]
# WCAG 2 contrast ratio of an element's text colour against its first opaque background.
CONTRAST_JS = """
const parse = (c) => c.match(/[\\d.]+/g).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const c = parse(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  }
  return [255, 255, 255];
};
return Array.from(document.querySelectorAll(arguments[0])).map((el) => {
  const [a, b] = [lum(parse(getComputedStyle(el).color)), lum(background(el))];
  return [el.tagName + "#" + el.id + "." + el.className,
          (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("page") / "sentiment"
    save_model(fit(), folder)
    return folder


TEST_METRICS = {"accuracy": 0.75, "macro_f1": 0.7, "per_class": {
    label: {"precision": 0.6, "recall": 0.8, "f1": 0.686, "support": 120}
    for label in ("negative", "neutral", "positive")}}


@pytest.fixture(scope="module")
def url(model_dir: Path) -> Iterator[str]:
    metrics = model_dir.parent / "metrics.json"
    metrics.write_text(json.dumps({"test": TEST_METRICS}))
    with serving(create_app(model_dir, Limits(16, 200), metrics=metrics)) as base:
        yield base


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("chromium and chromedriver are needed (.ci/apt-packages lists them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1200",
                     # Nothing but loopback is reachable: no name resolves, and any request
                     # that is not to loopback goes to a proxy that is not there.
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                     "--proxy-server=http://127.0.0.1:9"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def network_events(driver: WebDriver) -> list[dict]:
    return [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]


def wait_for(driver: WebDriver, condition, what: str) -> None:
    try:
        WebDriverWait(driver, 15).until(lambda _: condition())
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def open_page(driver: WebDriver, url: str, model_dir: Path) -> None:
    driver.get(f"{url}/")
    md5 = folder_md5(model_dir)
    wait_for(driver, lambda: md5 in driver.find_element(By.ID, "model").text, "the model version")


def test_page_loads_offline_from_this_service_alone(browser: WebDriver, url: str,
                                                    model_dir: Path) -> None:
    network_events(browser)  # drop what the browser's own start page loaded
    open_page(browser, url, model_dir)
    # The page's requests: those made by a document of this service (any host it asks for).
    events = network_events(browser)
    sent = {event["params"]["requestId"]: event["params"]["request"]["url"] for event in events
            if event["method"] == "Network.requestWillBeSent"
            and event["params"]["documentURL"].startswith(url)}
    assert {f"{url}/", f"{url}/app.js", f"{url}/app.css", f"{url}/v1/model"} <= set(
        sent.values())
    assert all(address.startswith((f"{url}/", "data:")) for address in sent.values()), sent
    mine = [event for event in events if event["params"].get("requestId") in sent]
    failed = [event["params"] for event in mine if event["method"] == "Network.loadingFailed"]
    assert failed == []
    statuses = {event["params"]["response"]["url"]: event["params"]["response"]["status"]
                for event in mine if event["method"] == "Network.responseReceived"}
    assert set(statuses.values()) == {200}, statuses
    loaded = sum(event["params"]["encodedDataLength"] for event in mine
                 if event["method"] == "Network.loadingFinished")
    assert 0 < loaded < FIRST_LOAD_LIMIT
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    # The blocking is real: a request to any other host fails.
    error = browser.execute_async_script(
        "fetch('http://example.com/').then(() => arguments[0]('reached'),"
        " (e) => arguments[0](String(e)))")
    assert error.startswith("TypeError")


def test_type_submit_and_read_labels_and_bars(browser: WebDriver, url: str,
                                              model_dir: Path) -> None:
    open_page(browser, url, model_dir)
    box = browser.find_element(By.ID, "texts")
    label = browser.find_element(By.CSS_SELECTOR, "label[for=texts]")
    assert label.text.startswith("Texts to score")
    box.send_keys(TEXTS[0], Keys.ENTER, Keys.ENTER, TEXTS[1])  # a blank line is skipped
    box.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard alone submits
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".result")) == 2,
             "two results")
    expected = Predictor.load(model_dir).predict(TEXTS)
    for item, text, prediction in zip(browser.find_elements(By.CSS_SELECTOR, ".result"),
                                      TEXTS, expected, strict=True):
        assert item.find_element(By.CSS_SELECTOR, ".text").text == text
        assert item.find_element(By.CSS_SELECTOR, ".label strong").text == prediction["label"]
        bars = item.find_elements(By.CSS_SELECTOR, ".bars li")
        assert len(bars) == len(prediction["probabilities"])
        for bar, (name, probability) in zip(bars, prediction["probabilities"].items(),
                                            strict=True):
            assert bar.find_element(By.CSS_SELECTOR, ".name").text == name
            assert bar.find_element(By.CSS_SELECTOR, ".pct").text == f"{100 * probability:.1f}%"
            track = bar.find_element(By.CSS_SELECTOR, ".track").size["width"]
            fill = bar.find_element(By.CSS_SELECTOR, ".fill").size["width"]
            assert fill == pytest.approx(probability * track, abs=2)
    assert browser.find_element(By.ID, "message").is_displayed() is False
    model = browser.find_element(By.ID, "model").text
    assert "Test accuracy\n0.750" in model and "Test macro-F1\n0.700" in model
    rows = browser.find_elements(By.CSS_SELECTOR, "#test-metrics tbody tr")
    assert [row.text for row in rows] == [f"{label} 0.600 0.800 0.686 120"
                                          for label in ("negative", "neutral", "positive")]
    ratios = browser.execute_script(CONTRAST_JS, "h1, h2, label, .help, button, .result p, "
                                                 ".name, .pct, dt, dd, th, td")
    assert ratios and all(ratio >= 4.5 for _, ratio in ratios), ratios
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "page.png"))


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter a text to score (one per line); the box is empty."),
    ("   ", "Enter a text to score (one per line); the box is empty."),
    ("fine\n" + "x" * 201, "Line 2 is 201 characters long: the limit is 200."),
])
def test_empty_or_too_long_text_gets_a_message(browser: WebDriver, url: str, model_dir: Path,
                                               typed: str, message: str) -> None:
    open_page(browser, url, model_dir)
    browser.execute_script("document.getElementById('texts').value = arguments[0]", typed)
    browser.find_element(By.ID, "submit").click()
    shown = browser.find_element(By.ID, "message")
    wait_for(browser, shown.is_displayed, "the message")
    assert shown.text == message
    assert shown.get_attribute("role") == "alert"
    assert browser.find_elements(By.CSS_SELECTOR, ".result") == []


def test_the_page_asks_for_a_key_when_the_service_needs_one(browser: WebDriver, model_dir: Path,
                                                            tmp_path: Path) -> None:
    key = "a-long-random-key-for-the-page-test"
    keys = tmp_path / "api-keys"
    keys.write_text(f"alice:{hash_key(key)}\n")
    with serving(create_app(model_dir, Limits(16, 200), api_keys=keys)) as base:
        open_page(browser, base, model_dir)
        key_field = browser.find_element(By.ID, "api-key")
        assert not key_field.is_displayed()
        browser.find_element(By.ID, "texts").send_keys("fine", Keys.CONTROL, Keys.ENTER)
        message = browser.find_element(By.ID, "message")
        wait_for(browser, message.is_displayed, "the message")
        assert message.text.startswith("This service requires an API key: no API key")
        assert key_field.is_displayed()
        assert browser.switch_to.active_element == key_field
        key_field.send_keys(key, Keys.ENTER)  # Enter in the key field submits the form
        wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".result")) == 1,
                 "the result")
        assert not message.is_displayed()
