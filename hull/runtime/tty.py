"""Foreground terminals: ``run`` of a ``process.terminal`` container without a console socket.

The container's init makes the pty in its own devpts and sends the master
over a socketpair (as it would over ``--console-socket``); the runtime then
puts its own terminal in raw mode and copies bytes both ways until the
container side closes, forwarding window size changes.
"""

from __future__ import annotations

import os


def socketpair() -> tuple[int, int]:
    """A connected AF_UNIX stream pair as raw fds (close-on-exec)."""
    import _socket

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    return a.detach(), b.detach()


def recv_fd(sock_fd: int) -> int:
    """Receive one fd sent with SCM_RIGHTS."""
    import _socket

    s = _socket.socket(fileno=sock_fd)
    try:
        _msg, anc, _flags, _addr = s.recvmsg(4096, _socket.CMSG_SPACE(4))
    finally:
        s.detach()
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4:
            fd = int.from_bytes(data[:4], "little")
            os.set_inheritable(fd, False)
            return fd
    raise OSError(5, "no terminal received from the container")


def copy_winsize(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        ws = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, ws)
    except OSError:
        pass


def proxy(master: int) -> None:
    """Copy stdin to the pty and the pty to stdout until the container closes it."""
    import select
    import termios

    stdin_tty = os.isatty(0)
    saved = None
    if stdin_tty:
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0)
        copy_winsize(0, master)
        import _signal  # type: ignore[import-not-found,unused-ignore]

        _signal.signal(28, lambda _s, _f: copy_winsize(0, master))  # SIGWINCH
    try:
        poller = select.poll()
        poller.register(master, select.POLLIN)
        stdin_open = True
        try:
            poller.register(0, select.POLLIN)
        except (OSError, ValueError):
            stdin_open = False
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: every slave fd closed
                        return
                    if not data:
                        return
                    os.write(1, data)
                elif stdin_open:
                    data = os.read(0, 65536) if ev & select.POLLIN else b""
                    if not data:
                        poller.unregister(0)
                        stdin_open = False
                        os.write(master, b"\x04")  # EOF at the line discipline
                    else:
                        os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
