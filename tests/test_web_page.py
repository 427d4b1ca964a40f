"""The upload page in a real headless Chromium: pick a sample, click Recognise, see text and boxes.

Needs Debian's `chromium` and `chromium-driver` (see README, "Tests") and selenium (test extra);
skipped with the reason when they are absent. The screenshot is saved as artifacts/web_page.png.
"""
import os
import shutil
import tempfile

import pytest

from conftest import ROOT, SAMPLES
from test_server import Server

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not installed: apt-get install chromium chromium-driver",
)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="tinycrnn-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = Server("--threads", "4")
    yield s
    s.stop()


def test_web_page_upload_recognise_shows_text_and_boxes(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.base + "/")
    assert browser.find_element(By.CSS_SELECTOR, "label[for='image-input']").text
    button = browser.find_element(By.ID, "recognise")
    assert not button.is_enabled()
    browser.find_element(By.ID, "image-input").send_keys(os.path.join(SAMPLES, "who_cook.png"))
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "recognise").is_enabled())
    button.click()
    wait = WebDriverWait(browser, 60)
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Done."))
    lines = [el.text for el in browser.find_elements(By.CSS_SELECTOR, "#lines .line-text")]
    assert "Thoroughly cook meat and eggs" in lines
    wait.until(lambda d: d.find_element(By.ID, "preview").get_attribute("data-boxes") not in (None, "", "0"))
    assert int(browser.find_element(By.ID, "preview").get_attribute("data-boxes")) == len(lines)
    assert "ms" in browser.find_element(By.ID, "timing").text
    meters = browser.find_elements(By.CSS_SELECTOR, "#lines [role='meter']")
    assert len(meters) == len(lines) and 0 < int(meters[0].get_attribute("aria-valuenow")) <= 100
    os.makedirs(os.path.join(ROOT, "artifacts"), exist_ok=True)
    assert browser.save_screenshot(os.path.join(ROOT, "artifacts", "web_page.png"))


def test_web_page_shows_error_for_bad_file(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not really a png")
    browser.get(server.base + "/")
    browser.find_element(By.ID, "image-input").send_keys(str(bad))
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "recognise").is_enabled())
    browser.find_element(By.ID, "recognise").click()
    WebDriverWait(browser, 30).until(ec.text_to_be_present_in_element((By.ID, "status"), "Error"))
    assert "not_an_image" in browser.find_element(By.ID, "status").text
