"""How long the notebooks keep a researcher waiting, in a real browser, before and after a change.

    .venv/bin/python benchmarks/notebooks.py                   # this checkout only
    .venv/bin/python benchmarks/notebooks.py --before 5f377c3  # that commit (exported to a temp dir) vs this checkout
    .venv/bin/python benchmarks/notebooks.py --before A --after B --repeat 5   # two commits

For each checkout and notebook: serve it with ``marimo run --headless`` on 127.0.0.1 (a fresh server
per repeat, so every load is cold), open it in Debian's Chromium (Playwright, every request that does
not go to 127.0.0.1 blocked and counted) and time, from ``page.goto``:

* ``first_view``: the notebook's first useful view (synthesis: the Step button; hand edit: the editor
  with its fixed/broken line; figures: the metric pickers; trajectory and compare: their first picker, or
  with no run folder in ``PATCHWORLD_RUNS_DIR`` the note saying how to make one);
* figures only: ``pareto_first`` (a Pareto figure on screen: the exported one shown at once, or the
  interactive one), ``pareto`` (the interactive, clickable Pareto plot drawn), ``metric_redraw`` (another fidelity metric picked
  until the plot's axis title changes) and ``svg_export`` (Export SVG until the files are listed);
* synthesis only: ``step`` (Step round clicked, one second after the first view, until the candidate table
  and counterexamples show).

Every wait polls in the page every 25 ms (through open shadow roots), so a time is when the element
was first on screen. (Up to 2026-12-01 this used Playwright's ``expect``, whose retries back off to one
check every 0.5 s: the first views it reported were up to ~0.5 s late, the back-off, not the page.)

With ``--floor`` it also times marimo's own floor, a notebook of one button importing nothing of ours
(what no change to our notebooks can beat on this machine and load).

The working tree may hold run folders (``runs/``, say from ``make results``) that the figures notebook
also draws and exports; for a like-for-like comparison give both sides as commits
(``--before A --after HEAD``), which are exported without them.

Prints medians over ``--repeat`` loads (wall seconds, and beside them the CPU seconds of the marimo server
and of the browser: Playwright's driver and Chromium), the load average, and before/after ratios; with
``--before`` the two checkouts take turns load by load (ABBA...). Timing lives here, never in tests.
Results vary with machine load: compare ratios measured in one session.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PATCHWORLD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT = 120_000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _browser_cpu(server: int) -> float:
    """CPU seconds of this process's descendants (Playwright's driver and Chromium, with their reaped
    children), leaving out the marimo server's own tree."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    mine, frontier = set(), [os.getpid()]
    while frontier:
        pid = frontier.pop()
        children = [c for c, ppid in parents.items() if ppid == pid and c != server]
        mine.update(children)
        frontier.extend(children)
    return sum(_cpu(pid) for pid in mine)


@contextlib.contextmanager
def serve(checkout: Path, notebook: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``marimo run`` one notebook of ``checkout`` (its own package first on the path); yield (url, pid)."""
    port = _port()
    marimo = Path(sys.executable).with_name("marimo")
    full_env = {**os.environ, **env, "PYTHONPATH": str(checkout)}
    proc = subprocess.Popen([str(marimo), "run", str(checkout / "notebooks" / notebook), "--headless", "--host",
                             "127.0.0.1", "--port", str(port), "--no-token"], cwd=checkout, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"marimo run {notebook} did not come up")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# True once every (css selector, text) target is on screen: an element matching the selector whose text
# contains the text (either may be empty; text alone means the innermost element holding it), searched
# through open shadow roots (marimo renders outputs there).
_ON_SCREEN_JS = """([mode, targets]) => {
  const roots = [document];
  for (let i = 0; i < roots.length; i++)
    for (const e of roots[i].querySelectorAll('*')) if (e.shadowRoot) roots.push(e.shadowRoot);
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0
    && getComputedStyle(e).visibility !== 'hidden'; };
  const found = ([css, text]) => roots.some(root => [...root.querySelectorAll(css || '*')].some(
    e => (!text || (e.textContent.includes(text) && (css || ![...e.children].some(c => c.textContent.includes(text)))))
         && shown(e)));
  return mode === 'any' ? targets.some(found) : targets.every(found);
}"""


def on_screen(page, *targets: tuple[str, str], timeout: int = TIMEOUT, any_of: bool = False) -> None:
    """Wait until every (css, text) target (with ``any_of``: one of them) is visible, checking in the page
    every 25 ms.

    Playwright's ``expect(...).to_be_visible()`` retries after 20, 50, 100, 100 ms and then every 500 ms, so
    a time taken after it can be up to ~0.5 s late; this poll is late by at most ~25 ms."""
    page.wait_for_function(_ON_SCREEN_JS, arg=["any" if any_of else "all", [list(t) for t in targets]], polling=25,
                           timeout=timeout)


def _measure(ctx, checkout: Path, notebook: str, env: dict[str, str],
             blocked: list[str]) -> dict[str, tuple[float, float, float]]:
    """One cold load of one notebook: {measure: (wall seconds, server CPU seconds, browser CPU seconds)}."""
    from playwright.sync_api import expect

    out: dict[str, tuple[float, float, float]] = {}
    with serve(checkout, notebook, env) as (url, pid):
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT)
        cpu0, bcpu0, t0 = _cpu(pid), _browser_cpu(pid), time.perf_counter()

        def mark(name: str) -> None:
            wall = time.perf_counter() - t0
            out[name] = (wall, _cpu(pid) - cpu0, _browser_cpu(pid) - bcpu0)

        page.goto(url)
        if notebook == "floor.py":
            on_screen(page, ("button", "Step round"))
            mark("first_view")
        elif notebook == "synthesis.py":
            on_screen(page, ("button", "Step round"))
            mark("first_view")
            # cells the button does not wait for may still run (a user reads the page first): step from a
            # settled page, so ``step`` times the round, not what is left of the load
            page.wait_for_timeout(1000)
            cpu0, bcpu0, t0 = _cpu(pid), _browser_cpu(pid), time.perf_counter()
            page.get_by_role("button", name="Step round").click()
            on_screen(page, ("table.pw-counterexamples tr + tr", ""), ("", "r001c00"))
            mark("step")
        elif notebook == "hand_edit.py":
            on_screen(page, (".cm-content", ""), ("", "fixed,"))
            mark("first_view")
        elif notebook == "figures.py":
            on_screen(page, ("", "Fidelity (x)"))
            mark("first_view")
            on_screen(page, (".pw-exported-figure svg, .js-plotly-plot .scatterlayer .trace", ""))
            mark("pareto_first")   # the exported figure shown at once, or the interactive plot if that came first
            on_screen(page, (".js-plotly-plot .scatterlayer .trace", ""))
            mark("pareto")
            # let the page settle (every cell has run and the kernel is idle) before changing a metric
            expect(page.get_by_role("button", name="Export SVG")).to_be_visible(timeout=TIMEOUT)
            page.wait_for_timeout(1000)
            before = page.locator(".js-plotly-plot").first.text_content()
            picker = page.locator("select").first
            current = picker.evaluate("e => e.options[e.selectedIndex].text")
            options = [o for o in picker.locator("option").all_text_contents() if o and o != current]
            if options:
                cpu0, bcpu0, t0 = _cpu(pid), _browser_cpu(pid), time.perf_counter()
                picker.select_option(label=options[0])
                plot = page.locator(".js-plotly-plot").first     # inside a shadow root: poll with locators
                deadline = time.monotonic() + TIMEOUT / 1000
                while time.monotonic() < deadline and plot.text_content() == before:
                    page.wait_for_timeout(50)
                mark("metric_redraw")
            cpu0, bcpu0, t0 = _cpu(pid), _browser_cpu(pid), time.perf_counter()
            page.get_by_role("button", name="Export SVG").click()
            on_screen(page, ("", "Wrote:"))
            mark("svg_export")
        else:   # the newer notebooks: their first picker, or the note that there is no run folder to pick
            on_screen(page, ("select, [role=combobox], input", ""), ("", "No run folders"), any_of=True)
            mark("first_view")
        page.close()
    return out


# marimo's own floor: a notebook of one button that imports nothing of ours (--floor)
_FLOOR_NOTEBOOK = '''import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _(mo):
    mo.ui.run_button(label="Step round")
    return


if __name__ == "__main__":
    app.run()
'''


def _floor_checkout() -> Path:
    """A folder holding notebooks/floor.py (see _FLOOR_NOTEBOOK)."""
    folder = Path(tempfile.mkdtemp(prefix="patchworld-floor-"))
    (folder / "notebooks").mkdir()
    (folder / "notebooks" / "floor.py").write_text(_FLOOR_NOTEBOOK, encoding="utf-8")
    return folder


def _export(ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="patchworld-before-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    # byte-compile as the working tree is, so the first load does not pay for it
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "patchworld")], check=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=None, help="a git ref to compare with (exported to a temp dir)")
    parser.add_argument("--after", default=None, help="a git ref for 'after' (default: this working tree)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--notebooks", nargs="*", default=["synthesis.py", "hand_edit.py", "figures.py"])
    parser.add_argument("--floor", action="store_true",
                        help="also time marimo's own floor: a one-button notebook that imports nothing of ours")
    args = parser.parse_args(argv)
    checkouts = ([("before", _export(args.before))] if args.before else []) + [
        ("after", _export(args.after) if args.after else ROOT)]
    floor = [("floor", _floor_checkout())] if args.floor else []
    try:
        return _run(args, checkouts, floor)
    finally:   # the exported commits and the floor notebook are temporary copies
        for _, folder in checkouts + floor:
            if folder != ROOT:
                shutil.rmtree(folder, ignore_errors=True)


def _run(args: argparse.Namespace, checkouts: list[tuple[str, Path]], floor: list[tuple[str, Path]]) -> int:
    """Time every notebook of every checkout (see the module docstring); print medians and ratios."""
    from playwright.sync_api import sync_playwright

    medians: dict[tuple[str, str, str], tuple[float, float]] = {}
    blocked: list[str] = []          # every off-host request, blocked
    blocked_by: dict[str, int] = {}  # how many per checkout and notebook
    print("load average (1, 5, 15 min) at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=CHROMIUM,
                                                   headless=True, args=ARGS, viewport={"width": 1500, "height": 1100})
        ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else (blocked.append(route.request.url),
                                                                           route.abort()))
        for notebook in args.notebooks + (["floor.py"] if args.floor else []):
            samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
            # before and after take turns, load by load and in alternating order (ABBA...), so a change in
            # machine load, or what one load leaves running, hits both alike
            for i in range(args.repeat):
                for label, checkout in (checkouts if i % 2 == 0 else checkouts[::-1]) + floor:
                    if not (checkout / "notebooks" / notebook).exists():
                        continue
                    env = {"PATCHWORLD_RUNS_DIR": str(Path(tmp) / f"runs-{label}-{notebook}-{i}"),
                           "PATCHWORLD_FIGURES_DIR": str(Path(tmp) / f"fig-{label}-{notebook}-{i}"),
                           "PATCHWORLD_RESULTS_DIR": str(checkout / "data" / "results")}
                    Path(env["PATCHWORLD_RUNS_DIR"]).mkdir(parents=True)
                    start = len(blocked)
                    for name, value in _measure(ctx, checkout, notebook, env, blocked).items():
                        samples.setdefault(label, {}).setdefault(name, []).append(value)
                    key = f"{label} {notebook}"
                    blocked_by[key] = blocked_by.get(key, 0) + len(blocked) - start
            for label, by_name in samples.items():
                for name, values in by_name.items():
                    wall, cpu, bcpu = (statistics.median(v[k] for v in values) for k in range(3))
                    medians[(label, notebook, name)] = (wall, cpu)
                    print(f"{label:6s} {notebook:14s} {name:14s} median {wall:6.2f} s wall  {cpu:6.2f} s server CPU"
                          f"  {bcpu:6.2f} s browser CPU  (n={len(values)})", flush=True)
        ctx.close()
    if args.before:
        print("\nratio before/after (wall medians):")
        for (label, notebook, name), (wall, _) in sorted(medians.items()):
            if label == "after" and ("before", notebook, name) in medians:
                old = medians[("before", notebook, name)][0]
                print(f"  {notebook:14s} {name:14s} {old:6.2f} s -> {wall:6.2f} s  x{old / wall:5.1f}")
    print("load average (1, 5, 15 min) at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("\nrequests that tried to leave 127.0.0.1 (blocked): " + ", ".join(f"{k}: {v}" for k, v in blocked_by.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
