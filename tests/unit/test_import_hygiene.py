"""The engine never imports Textual: each engine module is imported alone in a fresh interpreter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import peak_tui

PACKAGE = Path(peak_tui.__file__).parent
ENV = {k: v for k, v in os.environ.items() if k not in ("PEAK_TUI_HOME", "PYTHONDONTWRITEBYTECODE")} | {
    "PEAK_TUI_KEYRING": "0",
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "peak-tui-test-pycache")}
# UI modules, the CLI entry script (importing it runs the CLI), and the demo feed scripts, which
# import `lib` and exist only to be read as text.
NOT_ENGINE = {"app.py", "tui.py", "__main__.py"}
DEMO_SCRIPTS = {"orders.py", "customers_basic.py", "invoices_custom.py", "template.py"}


def engine_modules() -> list[str]:
    """Every engine module, found by walking the package so new modules are covered."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "widgets" or rel.name in NOT_ENGINE:
            continue
        if rel.parts[0] == "demo" and rel.name in DEMO_SCRIPTS:
            continue
        if "__pycache__" in rel.parts:
            continue
        parts = ["peak_tui", *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


# One interpreter forks a fresh child per module: the child starts with only the standard library
# and a few third-party packages that cannot load Textual (preloaded so 40 children do not each pay
# for them), imports the one module, and reports what of Textual it pulled in.
CHECK = """
import importlib, json, os, sys
PRELOAD = ("requests", "cryptography.fernet", "orjson", "tomli_w", "packaging.requirements",
           "platformdirs", "croniter", "sqlite3", "tomllib")
for name in PRELOAD:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
assert not any(m == "textual" or m.startswith("textual.") for m in sys.modules), "preload"
assert not any(m.startswith("peak_tui") for m in sys.modules), "preload"
out = {}
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            found = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
            msg = json.dumps({"textual": found})
        except BaseException as e:
            msg = json.dumps({"error": f"{type(e).__name__}: {e}"})
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    out[name] = json.loads(b"".join(chunks))
print(json.dumps(out))
"""


def test_module_walk_finds_the_engine() -> None:
    mods = engine_modules()
    for expected in ("peak_tui.store", "peak_tui.execution", "peak_tui.runtime.process",
                     "peak_tui.runtime.child.lib", "peak_tui.destinations.local", "peak_tui.cli",
                     "peak_tui.demo", "peak_tui.demo.data"):
        assert expected in mods
    assert not any(m.startswith("peak_tui.widgets") for m in mods)
    assert "peak_tui.demo.orders" not in mods and "peak_tui.app" not in mods


def test_no_engine_module_imports_textual() -> None:
    """Each module in a fresh process of its own: a module is judged by what it alone pulls in."""
    mods = engine_modules()
    proc = subprocess.run([sys.executable, "-c", CHECK, *mods], capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(report) == sorted(mods)
    failed = {m: r["error"] for m, r in report.items() if "error" in r}
    assert failed == {}, f"engine modules that cannot be imported alone: {failed}"
    offenders = {m: r["textual"][:3] for m, r in report.items() if r["textual"]}
    assert offenders == {}, f"engine modules that load textual: {offenders}"


def test_headless_cli_command_does_not_load_textual_or_pandas(tmp_path: Path) -> None:
    """`peak-tui runs --json` stays light: no Textual, and no pandas pulled in by a dependency."""
    code = ("import sys, runpy; sys.argv = ['peak-tui', '--home', sys.argv[1], 'runs', '--json']\n"
            "try:\n    runpy.run_module('peak_tui', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'pandas'}))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ws")], capture_output=True,
                          text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("LOADED []"), proc.stdout


def test_the_check_notices_textual() -> None:
    """The checker itself: a module that pulls in Textual is reported, and children do not leak."""
    proc = subprocess.run([sys.executable, "-c", CHECK, "textual.widget", "peak_tui.errors"],
                          capture_output=True, text=True, env=ENV, timeout=120)
    report = json.loads(proc.stdout)
    assert "textual" in report["textual.widget"]["textual"]
    assert report["peak_tui.errors"] == {"textual": []}
