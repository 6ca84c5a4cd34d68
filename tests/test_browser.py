"""The marimo notebooks in a real browser: Debian's Chromium driven by Playwright, served offline.

Each test serves one notebook with ``marimo run --headless`` on 127.0.0.1 (a free port; marimo
serves its own bundled frontend, so nothing is fetched from the network), opens it in headless
Chromium, drives it like a person would and saves a screenshot (to ``notebooks/screenshots/`` with PATCHWORLD_UPDATE_SCREENSHOTS=1)
(the README shows them). Skipped, with a message saying how to enable it, when Chromium or the
``playwright`` package is missing. No browser is downloaded: ``/usr/bin/chromium`` is used.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Screenshots land in a temp folder; set PATCHWORLD_UPDATE_SCREENSHOTS=1 to refresh the README's
# copies in notebooks/screenshots/ (so a plain test run never dirties tracked files).
SHOTS = (NOTEBOOKS / "screenshots" if os.environ.get("PATCHWORLD_UPDATE_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "patchworld-screenshots")
CHROMIUM = os.environ.get("PATCHWORLD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 60_000

try:
    from playwright.sync_api import Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

if (sync_playwright is None or not Path(CHROMIUM).exists()) and os.environ.get("PATCHWORLD_REQUIRE_BROWSER") == "1":
    pytest.fail("PATCHWORLD_REQUIRE_BROWSER=1 but Chromium or playwright is missing (CI installs Debian's chromium)",
                pytrace=False)
if sync_playwright is None or not Path(CHROMIUM).exists():
    pytest.skip(
        "browser test skipped: needs Debian's Chromium at /usr/bin/chromium and the playwright package. "
        "Enable it with `sudo apt-get install -y chromium chromium-driver` and `pip install playwright` "
        "(no `playwright install` needed; PATCHWORLD_CHROMIUM points at another Chromium binary).",
        allow_module_level=True,
    )


expect.set_options(timeout=TIMEOUT_MS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(notebook: Path, env: dict[str, str]) -> Iterator[str]:
    """``marimo run`` the notebook on a free local port; yield its URL once /health answers."""
    port = _free_port()
    marimo = Path(sys.executable).with_name("marimo")
    cmd = [str(marimo) if marimo.exists() else "marimo", "run", str(notebook), "--headless", "--host", "127.0.0.1",
           "--port", str(port), "--no-token"]
    log = open(env["PATCHWORLD_RUNS_DIR"] + f"/marimo-{notebook.stem}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"marimo run {notebook.name} did not come up: "
                                   + Path(log.name).read_text(errors="replace")[-2000:])
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium (a persistent context in a temp profile) for the module. Every request that
    does not go to 127.0.0.1 is blocked and recorded (``ctx.off_host``), so a CDN fetch (MathJax, fonts,
    plotly.js) is caught instead of silently working on a connected machine."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                   args=CHROMIUM_ARGS, viewport={"width": 1500, "height": 1100})
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.off_host = []

        def gate(route) -> None:
            if route.request.url.startswith(LOCAL):
                route.continue_()
            else:
                ctx.off_host.append(route.request.url)
                route.abort()

        ctx.route("**/*", gate)
        yield ctx
        ctx.close()


@pytest.fixture()
def browser_context(browser):
    """The module's browser; after each test, no request may have tried to leave 127.0.0.1."""
    browser.off_host.clear()
    yield browser
    assert browser.off_host == [], f"requests to other hosts (blocked): {browser.off_host[:5]}"


def _time_to(page: Page, url: str, locator_of, label: str) -> float:
    """Open ``url`` and wait for the first useful element; print the time (measured, never asserted)."""
    start = time.perf_counter()
    page.goto(url)
    expect(locator_of(page)).to_be_visible()
    seconds = time.perf_counter() - start
    print(f"time to {label}: {seconds:.1f} s")
    return seconds


@pytest.fixture()
def notebook_env(tmp_path: Path, traj_dir: Path) -> dict[str, str]:
    runs = tmp_path / "runs"
    runs.mkdir()
    return {"PATCHWORLD_RUNS_DIR": str(runs), "PATCHWORLD_TRAJ_DIR": str(traj_dir),
            "PATCHWORLD_FIGURES_DIR": str(tmp_path / "figures")}


@pytest.fixture(scope="module")
def traj_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped trajectories, or (before they are shipped) maze trajectories generated into a temp dir."""
    shipped = ROOT / "data" / "trajectories"
    if (shipped / "maze" / "maze_traj_val.jsonl").exists():
        return shipped
    from patchworld.envs.generate import generate

    out = tmp_path_factory.mktemp("trajectories")
    generate("maze", 0, out / "maze")
    return out


def _shot(page: Page, name: str) -> Path:
    """Screenshot the whole notebook: marimo scrolls inside a container, so grow the viewport to fit it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.evaluate("document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('.marimo-cell'),"
                           " e => e.getBoundingClientRect().bottom))")
    page.set_viewport_size({"width": 1500, "height": max(800, min(int(height) + 80, 6000))})
    page.wait_for_timeout(500)  # let plotly re-layout to the new size
    page.screenshot(path=str(path), full_page=True)
    return path


def test_synthesis_step_round_in_browser(browser_context, notebook_env: dict[str, str]) -> None:
    runs = Path(notebook_env["PATCHWORLD_RUNS_DIR"])
    with serve(NOTEBOOKS / "synthesis.py", notebook_env) as url:
        page = browser_context.new_page()
        _time_to(page, url, lambda p: p.get_by_role("button", name="Step round"), "Step button (synthesis)")
        expect(page.get_by_text(re.compile(r"^Step starts a new run in "))).to_be_visible()
        assert not [p for p in runs.iterdir() if p.is_dir()], "the pickers created a run folder"
        page.get_by_role("button", name="Step round").click()
        expect(page.get_by_text("Ran 1 round(s)")).to_be_visible()
        # the candidates table lists this round's candidates, the newest program's diff and counterexamples show
        expect(page.get_by_text("r001c00").first).to_be_visible()
        diff = page.locator(".pw-patch-diff .pw-diff table.diff")
        expect(diff).to_be_visible()
        assert diff.locator("td").count() > 0
        cex = page.locator("table.pw-counterexamples tr")
        expect(cex.nth(1)).to_be_visible()
        # the token-level difference between prediction and truth is highlighted (coloured, not just marked up)
        marked = page.locator("table.pw-counterexamples .pw-tok-wrong, table.pw-counterexamples .pw-tok-missing")
        expect(marked.first).to_be_visible()
        colour = marked.first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour in ("rgb(255, 200, 200)", "rgb(200, 240, 200)"), colour
        expect(page.get_by_text("shown to the proposer").first).to_be_visible()
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        # selecting another candidate in the table switches the detail view to it
        page.get_by_role("row").filter(has_text="r001c00").get_by_role("checkbox").first.click()
        expect(page.get_by_role("heading", name="Candidate r001c00 (round 1)")).to_be_visible()
        # clicking a candidate's point on the round curve selects that candidate
        _click_round_curve_point(page, avoid="r001c00")
        folder = runs / "notebook-maze-simple-mutation-maze_flawed-c4"
        assert (folder / "candidates.jsonl").exists()
        shot = _shot(page, "synthesis")
        assert shot.stat().st_size > 10_000

        # a second tab on the same run folder: told who writes it, and Step refuses with that message
        other = browser_context.new_page()
        other.goto(url)
        expect(other.get_by_text("In use:")).to_be_visible()
        logged = _lines(folder / "candidates.jsonl")
        other.get_by_role("button", name="Step round").click()
        expect(other.get_by_text("Cannot step this run.")).to_be_visible()
        expect(other.get_by_text(re.compile(r"is being written by pid \d+ on host"))).to_be_visible()
        assert _lines(folder / "candidates.jsonl") == logged        # the refused tab wrote nothing
        other.close()

        # the wide search in a folder of its own: the candidate view shows where its round looked
        page.get_by_text("wide (beam)", exact=True).click()
        expect(page.get_by_text(re.compile(r"^Step starts a new run in .*-beam "))).to_be_visible()
        page.get_by_role("button", name="Step round").click()
        expect(page.get_by_text(re.compile(r"^Where the search looked"))).to_be_visible()
        cell = page.locator(".pw-patch-diff td.pw-susp[title]").first
        expect(cell).to_be_visible()
        tint = cell.evaluate("e => getComputedStyle(e).backgroundColor")
        assert tint.startswith("rgba(207, 34, 46"), tint
        assert (runs / "notebook-maze-simple-mutation-maze_flawed-c4-beam" / "candidates.jsonl").exists()
        page.get_by_text(re.compile(r"^Where the search looked")).click()     # unfold the whole parent
        expect(page.locator("details.pw-suspicion td.pw-susp[title]").first).to_be_visible()
        _shot(page, "synthesis_wide")
        page.close()

    # the trajectory stepper on the run just made: step through a trajectory, parent beside child
    with serve(NOTEBOOKS / "trajectory.py", notebook_env) as url:
        page = browser_context.new_page()
        _time_to(page, url, lambda p: p.get_by_role("heading", name=re.compile(r"^Transition 1 of")), "first transition (trajectory stepper)")
        expect(page.get_by_role("heading", name=re.compile(r"^parent: "))).to_be_visible()
        expect(page.get_by_role("heading", name=re.compile(r"^child: "))).to_be_visible()
        page.get_by_role("button", name="next >").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Transition 2 of"))).to_be_visible()
        page.get_by_role("button", name="< previous").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Transition 1 of"))).to_be_visible()
        _shot(page, "trajectory")
        page.close()


def _click_round_curve_point(page: Page, avoid: str) -> None:
    """Hover the curve's candidate points until one of another candidate shows its id, click it (retried:
    plotly wires its click handler after the first render) and expect the detail view to switch to it."""
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()   # mouse positions are the viewport's: the curve must be in it
    points = plot.locator(".scatterlayer .trace .points path")
    hover = plot.locator(".hoverlayer .hovertext")
    for i in range(points.count()):
        box = points.nth(i).bounding_box()
        if box is None:
            continue
        target = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*target)
        page.wait_for_timeout(150)
        found = re.search(r"r\d{3}c\d{2}", hover.first.text_content() or "") if hover.count() else None
        if not found or found.group(0) == avoid:
            continue
        heading = page.get_by_role("heading", name=f"Candidate {found.group(0)} (round 1)")
        for _ in range(5):
            page.mouse.click(*target)
            try:
                heading.wait_for(timeout=3000)
                return
            except PlaywrightTimeout:
                page.mouse.move(target[0] + 1, target[1])
        expect(heading).to_be_visible()
        return
    raise AssertionError("no clickable candidate point on the round curve")


def _lines(path: Path) -> list[str]:
    """A log's non-empty lines."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_hand_edit_in_browser(browser_context, notebook_env: dict[str, str]) -> None:
    with serve(NOTEBOOKS / "hand_edit.py", notebook_env) as url:
        page = browser_context.new_page()
        _time_to(page, url, lambda p: p.locator(".cm-content").first, "editor (hand edit)")
        editor = page.locator(".cm-content").first
        expect(page.get_by_text(re.compile(r"\b0 fixed, 0 broken"))).to_be_visible()
        source = (ROOT / "data" / "programs" / "maze_flawed.py").read_text(encoding="utf-8")
        edited = source.replace("{GOAL[1]}, {GOAL[0]}", "{GOAL[0]}, {GOAL[1]}")
        assert edited != source, "maze_flawed.py no longer has the goal-coordinates bug this test fixes"
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(edited)
        page.locator("h1").first.click()  # blur: the editor reports its value
        expect(page.get_by_text(re.compile(r"\b[1-9][0-9]* fixed, [0-9]+ broken")).first).to_be_visible()
        # the remaining counterexamples show truth and predictions with the differing tokens marked
        expect(page.locator("table.pw-counterexamples .pw-tok-wrong, table.pw-counterexamples .pw-tok-missing")
               .first).to_be_visible()
        # saving: the gate's verdict appears right beside the button, not a screen further down
        save = page.get_by_role("button", name="Save as manual patch")
        save.click()
        verdict = page.get_by_text(re.compile(r"^Saved to .* as candidate "))
        expect(verdict).to_be_visible()
        button_box, verdict_box = save.bounding_box(), verdict.bounding_box()
        assert button_box and verdict_box and abs(verdict_box["y"] - button_box["y"]) < 150, (button_box, verdict_box)
        _shot(page, "hand_edit")
        page.close()


def _sibling_results_folder(tmp_path: Path) -> Path:
    """The small results folder test_notebooks.py builds (loaded by path: tests is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_nb_tests", Path(__file__).with_name("test_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module._results_folder(tmp_path)[0]


def test_figures_click_and_export_in_browser(browser_context, notebook_env: dict[str, str], tmp_path: Path) -> None:
    shipped = ROOT / "data" / "results"
    results = shipped if (shipped / "results.parquet").exists() else _sibling_results_folder(tmp_path)
    with serve(NOTEBOOKS / "figures.py", {**notebook_env, "PATCHWORLD_RESULTS_DIR": str(results)}) as url:
        page = browser_context.new_page()
        _time_to(page, url, lambda p: p.get_by_text("Fidelity (x)").first, "metric pickers (figures)")
        pareto = page.locator(".js-plotly-plot").first
        expect(pareto.locator(".main-svg").first).to_be_visible()
        expect(pareto.locator(".scatterlayer .trace .points path").first).to_be_visible()
        picked = page.get_by_role("heading", name=re.compile(r"\) on \w+: program"))
        points = pareto.locator(".scatterlayer .trace .points path")
        hover = pareto.locator(".hoverlayer .hovertext")
        target = None
        for i in range(points.count()):  # hover until a point of a program (not a reference model) is found
            box = points.nth(i).bounding_box()
            assert box is not None
            target = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.move(*target)
            page.wait_for_timeout(100)
            if hover.count() and "simple" in (hover.first.text_content() or ""):
                break
        assert target is not None
        for _ in range(5):  # plotly wires its click handler after the first render: retry until it lands
            page.mouse.click(*target)
            try:
                picked.wait_for(timeout=2000)
                break
            except PlaywrightTimeout:
                page.mouse.move(target[0] + 1, target[1])
        expect(picked).to_be_visible()
        expect(page.locator(".cm-content").first).to_be_visible()  # the program's source
        page.get_by_role("button", name="Export CSV").click()
        expect(page.get_by_text("results_wide.csv")).to_be_visible()
        assert (Path(notebook_env["PATCHWORLD_FIGURES_DIR"]) / "results_wide.csv").exists()
        _shot(page, "figures")
        page.close()
