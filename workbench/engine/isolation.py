"""Run a function in a child process that is killed at a deadline.

Why a process: a Python thread cannot be stopped. A unit abandoned after its timeout in a thread
goes on computing and holds the Dask worker's only core (workers are single-threaded) until it
ends on its own, which for a hung model is never. A child process can be killed, and its CPU and
memory are then free. `run_with_deadline` starts one child per call, waits for its result until the
deadline, and on expiry terminates it (SIGTERM, then SIGKILL after a short grace) and joins it: when
the call returns or raises, the child is gone.

Where children come from: a forkserver (spawn where the platform has none). Forking a Dask worker,
which runs threads, is unsafe; a forkserver is a fresh single-threaded process that imports the
`preload` modules once and forks each child from there. Measured on a 2-core machine: a spawned
child needs about 0.75 s to import the workbench before it can start, every time; a forkserver child
about 10 ms (the server's own start, about 0.8 s, is paid once per worker process).

What the child sees: the parent's environment variables, working directory and `sys.path` at the
time of the call (the forkserver itself may have started earlier), and its callable and arguments
pickled by cloudpickle, so a class defined in a notebook travels too.

The deadline counts from the moment the child has loaded its work (its imports done), so a slow
start is not charged to the work; a child that cannot load its work within `start_timeout_s` is
killed and reported as an `IsolationError`.

Orphans: a child exits when its parent dies, however it dies (it watches a pipe whose only writer is
the parent, and on Linux the kernel also kills it when its parent process goes), so killing a worker
never leaves a child computing. Dask's worker processes are daemonic, and multiprocessing refuses
children to daemonic processes for exactly that reason (their children could outlive them); the
flag is lifted for the instant of the child's start only, since these children cannot outlive them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

GRACE_S = 2.0  # between SIGTERM and SIGKILL
START_TIMEOUT_S = 120.0  # a child that has not loaded its work by then is stuck, not slow
_START_LOCK = threading.Lock()


class UnitTimeout(Exception):
    """The function ran past its deadline; its process was killed (and is gone)."""

    def __init__(self, timeout_s: float, elapsed_s: float, killed_at: float) -> None:
        super().__init__(f"exceeded {timeout_s:g} s (the process was killed)")
        self.timeout_s, self.elapsed_s, self.killed_at = timeout_s, elapsed_s, killed_at


class IsolationError(RuntimeError):
    """The child died without a result or could not start its work."""


class ChildError(Exception):
    """An exception raised in the child that could not be sent back as itself."""


def run_with_deadline(
    fn: Callable[..., Any],
    args: Iterable[Any] = (),
    timeout_s: float = 60.0,
    *,
    preload: Iterable[str] = (),
    grace_s: float = GRACE_S,
    start_timeout_s: float = START_TIMEOUT_S,
) -> Any:
    """`fn(*args)` computed in a child process, or `UnitTimeout` once it runs past `timeout_s`.

    An exception of `fn` is raised here (as itself where it can be unpickled, else as `ChildError`)
    with `child_error` ("Type: message") and `child_traceback` (the child's traceback) attached.
    `preload` names modules the forkserver imports once, before its first child."""
    ctx = _context(tuple(preload))
    context = pickle.dumps({"environ": dict(os.environ), "cwd": os.getcwd(), "sys_path": list(sys.path)})
    work = cloudpickle.dumps((fn, tuple(args)))
    results, results_child = ctx.Pipe(duplex=False)
    lifeline_child, lifeline = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child_main, args=(context, work, results_child, lifeline_child), name="workbench-isolated", daemon=True
    )
    try:
        with _may_have_children():
            child.start()
        results_child.close()
        lifeline_child.close()
        message = _receive(results, start_timeout_s, child)
        if message is None:
            _kill(child, grace_s)
            raise IsolationError(f"the child process did not load its work within {start_timeout_s:g} s")
        if message[0] == "started":
            started = time.monotonic()
            message = _receive(results, timeout_s, child)
            if message is None:
                _kill(child, grace_s)
                raise UnitTimeout(timeout_s, time.monotonic() - started, time.time())
        if message[0] == "ok":
            return message[1]
        raise _rebuild(*message[1:])
    finally:
        _kill(child, grace_s, politely=True)
        with contextlib.suppress(ValueError):
            child.close()
        results.close()
        lifeline.close()


def _context(preload: tuple[str, ...]) -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))  # read when the server starts (first child, or after it died)
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _may_have_children() -> Iterator[None]:
    """Lift the daemon flag of this process (a Dask worker's) while a child starts."""
    me = multiprocessing.current_process()
    with _START_LOCK:
        daemonic = me.daemon
        if daemonic:
            me.daemon = False
        try:
            yield
        finally:
            if daemonic:
                me.daemon = True


def _receive(conn: Connection, timeout_s: float, child: Any) -> tuple | None:
    """The child's next message, None at the deadline; IsolationError if it died without one."""
    if not conn.poll(max(timeout_s, 0.0)):
        return None
    try:
        return pickle.loads(conn.recv_bytes())
    except EOFError:
        child.join(GRACE_S)
        raise IsolationError(f"the child process died before it returned a result ({_exit(child.exitcode)})") from None


def _exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _kill(child: Any, grace_s: float, politely: bool = False) -> None:
    """End the child and reap it: SIGTERM, SIGKILL after `grace_s`. `politely`: let it exit by itself
    first (a child that has sent its result is on its way out)."""
    if child.pid is None:  # never started
        return
    if politely:
        child.join(grace_s)
    if child.exitcode is None:
        child.terminate()
        child.join(grace_s)
    if child.exitcode is None:
        child.kill()
        child.join()


def _rebuild(exc_bytes: bytes | None, summary: str, trace: str) -> BaseException:
    exc: BaseException
    try:
        exc = pickle.loads(exc_bytes) if exc_bytes is not None else ChildError(summary)
    except Exception:
        exc = ChildError(summary)
    exc.child_error = summary  # type: ignore[attr-defined]
    exc.child_traceback = trace  # type: ignore[attr-defined]
    return exc


def _child_main(context: bytes, work: bytes, results: Connection, lifeline: Connection) -> None:
    """The child: follow the parent's death, take on its environment, load the work, run it, send back."""
    _exit_with_parent(lifeline)
    try:
        state = pickle.loads(context)
        os.environ.clear()
        os.environ.update(state["environ"])
        os.chdir(state["cwd"])
        sys.path[:] = state["sys_path"]
        fn, args = cloudpickle.loads(work)
    except BaseException as exc:
        _send_error(results, exc)
        return
    results.send_bytes(pickle.dumps(("started",)))
    try:
        value = fn(*args)
    except BaseException as exc:
        _send_error(results, exc)
        return
    try:
        payload = cloudpickle.dumps(("ok", value))
    except Exception as exc:
        _send_error(results, exc)
        return
    results.send_bytes(payload)


def _send_error(results: Connection, exc: BaseException) -> None:
    summary = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    try:
        exc_bytes: bytes | None = cloudpickle.dumps(exc)
    except Exception:
        exc_bytes = None
    results.send_bytes(pickle.dumps(("error", exc_bytes, summary, trace)))


def _exit_with_parent(lifeline: Connection) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()  # the parent never writes: this returns at its death
        os._exit(70)

    threading.Thread(target=watch, name="workbench-lifeline", daemon=True).start()
