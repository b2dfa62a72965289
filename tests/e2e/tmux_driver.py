"""Drive a real terminal app in a private tmux server: send keys, poll the screen (for e2e tests)."""
from __future__ import annotations

import re
import subprocess
import time
import uuid


class Tmux:
    """One detached tmux session on a private server, torn down with the server."""

    def __init__(self, command: str, width: int = 120, height: int = 40) -> None:
        self.socket = f"peak-e2e-{uuid.uuid4().hex[:8]}"
        self.tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command,
                  ";", "set-option", "-g", "escape-time", "0",
                  ";", "set-option", "-g", "window-size", "manual",
                  ";", "resize-window", "-t", "app", "-x", str(width), "-y", str(height))

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                             timeout=20, check=True)
        return out.stdout

    def keys(self, *keys: str) -> None:
        """Named keys (Enter, Tab, C-n, Down ...)."""
        self.tmux("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        """Literal text."""
        self.tmux("send-keys", "-t", "app", "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def row_ansi(self, pattern: str) -> str:
        """The first screen row matching `pattern`, with its colour escapes (selection shows)."""
        plain = self.screen().splitlines()
        ansi = self.tmux("capture-pane", "-p", "-e", "-t", "app").splitlines()
        for i, line in enumerate(plain):
            if re.search(pattern, line) and i < len(ansi):
                return ansi[i]
        return ""

    def poll(self, pattern: str, timeout: float) -> str | None:
        """The screen once `pattern` (a regex) shows on it, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)  # the poll interval of a deadline loop, not a wait for an event

    def wait(self, pattern: str, timeout: float = 30.0) -> str:
        """Poll the screen until `pattern` shows, or fail showing the last screen."""
        text = self.poll(pattern, timeout)
        if text is None:
            raise AssertionError(f"{pattern!r} never showed; the screen was:\n{self.screen()}")
        return text

    def wait_gone(self, pattern: str, timeout: float = 15.0) -> None:
        """Poll until `pattern` is no longer on screen."""
        deadline = time.monotonic() + timeout
        while re.search(pattern, self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} stayed on screen:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)
