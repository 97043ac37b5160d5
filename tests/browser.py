"""Open reports in a real headless Chromium and report what a reader would trip over.

Used by tests/test_reports.py, and runnable by hand after a run:
    .venv/bin/python tests/browser.py reports/   # writes reports/index.png
"""

import contextlib
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM = "/usr/bin/chromium"  # Debian's package; `make test` installs it
# As root, without a sandbox; and quiet, since this machine refuses Chromium's background
# connections (each would be an error in the console).
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]

_BROKEN_IMAGES = """Array.from(document.images)
  .filter(img => !img.complete || img.naturalWidth === 0)
  .map(img => img.src.slice(0, 80))"""
_LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"


VIEWPORT = {"width": 1280, "height": 900}


@contextlib.contextmanager
def chromium():
    """A headless Chromium, closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _broken_link(page_path: Path, href: str, page) -> str | None:
    parsed = urlparse(href)
    if parsed.scheme in ("http", "https"):
        return f"{href}: a link to the network in an offline report"
    if href.startswith("#"):
        found = page.evaluate("id => document.getElementById(id) !== null", unquote(href[1:]))
        return None if found else f"{href}: no element with that id"
    target = (page_path.parent / unquote(parsed.path)).resolve()
    return None if target.exists() else f"{href}: {target} does not exist"


def check_pages(pages: list[Path], screenshot: Path | None = None) -> dict[str, list[str]]:
    """Problems per page: console errors, uncaught exceptions, broken images and links."""
    problems: dict[str, list[str]] = {}
    with chromium() as browser:
        for page_path in pages:
            found: list[str] = []
            page = browser.new_page(viewport=VIEWPORT)
            page.on(
                "console",
                lambda msg, found=found: (
                    found.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error, found=found: found.append(f"exception: {error}"))
            page.on(
                "requestfailed",
                lambda request, found=found: found.append(f"request failed: {request.url[:120]}"),
            )
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # let scripts that run after load report errors
            found += [f"broken image: {src}" for src in page.evaluate(_BROKEN_IMAGES)]
            for href in page.evaluate(_LINKS):
                problem = _broken_link(page_path, href, page)
                if problem:
                    found.append(f"broken link: {problem}")
            if screenshot is not None and page_path.name == "index.html":
                page.screenshot(path=str(screenshot), full_page=True)
            problems[str(page_path)] = found
            page.close()
    return problems


def screenshot_figures(page_path: Path, figures: dict[str, bytes], out_dir: Path) -> dict:
    """Screenshots of the images on a page whose bytes are one of `figures` (the report
    embeds each figure's PNG file as it is), named after it in `out_dir`; with each, the
    size Chromium laid it out at."""
    import base64

    shown = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        for image in page.query_selector_all("img"):
            source = image.get_attribute("src") or ""
            if not source.startswith("data:image/png;base64,"):
                continue
            data = base64.b64decode(source.partition(",")[2])
            for name in [name for name, png in figures.items() if png == data]:
                image.scroll_into_view_if_needed()
                shot = out_dir / f"{name}.png"
                image.screenshot(path=str(shot))
                shown[name] = {"path": shot, "box": image.bounding_box()}
    return shown


if __name__ == "__main__":
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else "reports")
    pages = [
        reports / "index.html",
        *sorted(p for p in reports.glob("*.html") if p.name != "index.html"),
    ]
    result = check_pages(pages, screenshot=reports / "index.png")
    for page, found in result.items():
        print(f"{page}: {'ok' if not found else '; '.join(found)}")
    sys.exit(1 if any(result.values()) else 0)
