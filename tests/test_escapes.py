"""The escapes corpus: with the Python guard switched off from inside, the kernel layers still hold.

Each program in ``tests/hostile/escapes/`` first empties the audit hook's tables (``_unguard``),
then tries to fork, open sockets, kill the test process, write outside its scratch directory or
read secrets, and reports what happened as its prediction. After the whole corpus: this process
is alive, no process the corpus started is left, no file outside the scratch directories
changed (the repository's data and sandbox code, a fake home, a run folder, an LLM cache are
hashed before and after), nothing reached the listening sockets, and a canary key set in the
environment and planted in the fake home appears in no text that came back or was written.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import time
from pathlib import Path

import pytest

from patchworld.data import Trajectory, Transition, load_trajectories
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import Limits, shutdown_pool
from patchworld.sandbox.job import OUTCOMES
from patchworld.sandbox.kernel import probe
from patchworld.synthesis import Session

ROOT = Path(__file__).resolve().parents[1]
ESCAPES = Path(__file__).parent / "hostile" / "escapes"
NAMES = sorted(p.stem for p in ESCAPES.glob("*.py") if not p.stem.startswith("_"))
LIMITS = Limits(cpu_seconds=20, memory_mb=400, wall_seconds=30, step_seconds=10)
CANARY = "sk-canary" + "".join(random.choice("abcdef0123456789") for _ in range(32))
TEMPLATE = '''
class Escaping:
    def init_belief(self):
        return {{}}
    def correct_belief(self, belief, obs):
        return belief
    def predict_belief(self, belief, action):
        return belief
    def readout_observation(self, belief, action=""):
        if "report" not in _STATE:
            _unguard()
            _STATE["report"] = _escape()
        return _STATE["report"]

_STATE = {{}}
'''
_LAYERS = probe()
pytestmark = pytest.mark.skipif(not (_LAYERS["landlock"] and _LAYERS["seccomp"]),
                                reason=f"this kernel lacks a layer the corpus relies on: {_LAYERS}")


def _hash(*folders: Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[str(path)] = "dir"
    return out


def _leftovers(token: int) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid, ppid = int(fields["Uid"].split()[0]), int(fields["PPid"])
        if fields["State"].split()[0] in ("Z", "X"):  # dead, waiting to be reaped
            continue
        # a worker uid whose fork server is gone (orphans go to init or this process); other
        # sessions' spares, whose fork servers are alive, are theirs
        if str(token).encode() in cmdline or (uid >= 200000 and ppid in (0, 1, os.getpid())):
            found.append(f"{entry} uid={uid} ppid={ppid} {cmdline[:80]!r}")
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("escapes")
    home, run, cache = base / "home", base / "run", base / "cache"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY----- {CANARY}\n")
    run.mkdir()
    (run / "candidates.jsonl").write_text('{"accepted": false}\n')
    cache.mkdir()
    (cache / "entry.json").write_text(f'{{"key": "{CANARY}"}}\n')
    token = random.randrange(10**6, 10**7)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    constants = {"TEST_PID": os.getpid(), "REPO": str(ROOT), "RUN_DIR": str(run), "CACHE_DIR": str(cache),
                 "HOME_DIR": str(home), "TOKEN": token, "TCP_PORT": tcp.getsockname()[1],
                 "UDP_PORT": udp.getsockname()[1]}
    watched = [ROOT / "data" / "trajectories", ROOT / "patchworld" / "sandbox", home, run, cache]
    before = _hash(*watched)
    os.environ["PATCHWORLD_CANARY_API_KEY"] = CANARY
    trajs = [Trajectory("toy", "0", 0, 0, "val", False, 0.0, (Transition("a", "noop", "b", 0.0, False),) * 2)]
    header = "".join(f"{k} = {v!r}\n" for k, v in constants.items())
    unguard = (ESCAPES / "_unguard.py").read_text()
    results = {}
    try:
        for name in NAMES:
            source = "\n".join([header, unguard, (ESCAPES / f"{name}.py").read_text(), TEMPLATE.format()])
            results[name] = replay(Program.from_source(source), trajs, limits=LIMITS)
        # the same escape submitted through the workbench: the run folder it writes must not hold the key
        folder = ROOT / "data" / "trajectories" / "maze"
        session = Session("maze", load_trajectories(folder / "maze_traj_train.jsonl")[:2],
                          load_trajectories(folder / "maze_traj_val.jsonl")[:2],
                          program=Program.from_file(ROOT / "tests" / "hostile" / "good_maze.py"),
                          run_dir=base / "session", sandbox=True, limits=LIMITS, workers=1)
        try:
            source = "\n".join([header, unguard, (ESCAPES / "read_secrets.py").read_text(), TEMPLATE.format()])
            verdict = session.submit(source)
        finally:
            session.close()
    finally:
        del os.environ["PATCHWORLD_CANARY_API_KEY"]
        shutdown_pool()
    written = [p.read_text(errors="replace") for p in (base / "session").rglob("*") if p.is_file()]
    try:
        conn, _ = tcp.accept()
        conn.close()
        tcp_got = True
    except BlockingIOError:
        tcp_got = False
    try:
        udp_got = udp.recvfrom(100)
    except BlockingIOError:
        udp_got = None
    tcp.close()
    udp.close()
    leftovers = _leftovers(token)
    for _ in range(30):  # a process killed a moment ago may still be on its way out
        if not leftovers:
            break
        time.sleep(0.1)
        leftovers = _leftovers(token)
    return {"results": results, "before": before, "after": _hash(*watched), "token": token, "tcp": tcp_got,
            "udp": udp_got, "leftovers": leftovers, "repo": ROOT, "folders": [home, run, cache],
            "written": written, "verdict": verdict}


def _report(corpus, name: str) -> str:
    result = corpus["results"][name]
    return " ".join(result.steps["predicted"].to_list() + result.steps["error"].to_list() + [result.detail])


def test_every_escape_ends_with_a_typed_outcome_and_this_process_survives(corpus) -> None:
    assert set(corpus["results"]) == set(NAMES)
    for name, result in corpus["results"].items():
        assert result.outcome in OUTCOMES, (name, result.outcome)
        assert result.steps.height == 2
    assert os.getpid() > 0  # still here after kill_parent


def test_the_guard_was_off_so_the_kernel_refused(corpus) -> None:
    for name in NAMES:
        report = corpus["results"][name].steps["predicted"][0]
        assert "sandbox:" not in report, (name, report)  # no refusal came from the audit hook
        assert "Errno" in report or "errno 1" in report, (name, report)


def test_no_process_and_no_packet_escaped(corpus) -> None:
    report = _report(corpus, "fork_subprocess")
    assert "fork ok" not in report and "popen ok" not in report and "blocked" in report, report
    assert "errno 1" in report or "raw fork blocked" in report, report  # the raw syscall got EPERM
    assert corpus["leftovers"] == []
    assert "tcp ok" not in _report(corpus, "sockets") and not corpus["tcp"]
    assert "udp ok" not in _report(corpus, "sockets") and corpus["udp"] is None
    assert "killed" not in _report(corpus, "kill_parent")


def test_no_file_outside_scratch_changed(corpus) -> None:
    assert " ok" not in _report(corpus, "write_outside")
    assert corpus["after"] == corpus["before"]
    token = str(corpus["token"])
    for folder in (corpus["repo"], corpus["repo"] / "patchworld", *corpus["folders"]):
        assert not [p for p in os.listdir(folder) if token in p]


def test_secrets_stay_out_of_every_text(corpus) -> None:
    report = corpus["results"]["read_secrets"].steps["predicted"][0]
    assert report.count("read blocked") == 6, report
    for name, result in corpus["results"].items():
        texts = [_report(corpus, name), result.output]
        assert not any(CANARY in text for text in texts), name
        assert not any("sk-canary" in text for text in texts), name
    assert not corpus["verdict"].accepted and len(corpus["written"]) > 3
    assert not any(CANARY in text or "sk-canary" in text for text in corpus["written"])
    assert any("read blocked" in text for text in corpus["written"])  # the escape's report was written there


def test_a_missing_kernel_layer_is_said_once_and_the_layers_applied_are_reported(monkeypatch) -> None:
    from patchworld.sandbox import kernel

    monkeypatch.setattr(kernel, "_WARNED", set())
    with pytest.warns(RuntimeWarning, match="Landlock is not available"):
        assert kernel.warn_missing({"landlock": False, "seccomp": True, "uid": True}) == ["landlock"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernel.warn_missing({"landlock": False, "seccomp": True, "uid": True})  # said once per process
    trajs = [Trajectory("toy", "0", 0, 0, "val", False, 0.0, (Transition("a", "noop", "b", 0.0, False),))]
    echo = "class M:\n def init_belief(self): return 0\n def correct_belief(self, b, o): return b\n" \
           " def predict_belief(self, b, a): return b\n def readout_observation(self, b, a=''): return 'b'\n"
    layers = replay(Program.from_source(echo), trajs, limits=LIMITS).extra["layers"]
    assert {"fds", "no_new_privs", "seccomp"} <= set(layers) and any(v.startswith("landlock") for v in layers)
    assert ("uid" in layers) == (os.geteuid() == 0)
