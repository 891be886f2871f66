"""Run a function in a child process that is killed at a deadline.

Why a process: a Python thread cannot be stopped. A unit abandoned after its timeout in a thread
goes on computing and holds the Dask worker's only core (workers are single-threaded) until it
ends on its own, which for a hung model is never. A child process can be killed, and its CPU and
memory are then free. `run_with_deadline` hands the call to a child, waits for the result until the
deadline and, on expiry, terminates the child (SIGTERM, then SIGKILL after a short grace) and joins
it: when the call raises `UnitTimeout`, that child is gone.

Why a child is reused: a fresh process pays again what the worker paid once (re-running the
program's main module, as multiprocessing does for every child; loading the dataset catalog; numba's
first dispatch and its cached kernels; a model's imports and weights), about 0.5 s per unit under
`workbench run` where a warm unit of naive or theta takes 20 ms. So a child runs one call after
another, one child per calling thread, and only a child that was killed, or died, is replaced.

Where children come from: a forkserver (spawn where the platform has none). Forking a Dask worker,
which runs threads, is unsafe; the forkserver is a fresh single-threaded process that forks each
child, and the parent whose death the kernel reports to the child. Measured on a 2-core machine: a
spawned child needs about 0.75 s to import the workbench before it can start; a forkserver child
that finds it preloaded about 10 ms, after the server's own start (about 0.8 s, once per worker).
Without `preload` (the engine's choice, since children are reused) the server stays small (14 MB
against 250 MB) and a new child imports what it needs, as a spawned one would.

What a call sees: the parent's environment variables, working directory and `sys.path` at the time
of the call (the child may be older), and its callable and arguments pickled by cloudpickle, so a
class defined in a notebook travels too. The deadline counts from the moment the child has loaded
the call (its imports done); a child that cannot load it within `start_timeout_s` is killed and
reported as an `IsolationError`.

Orphans: a child exits when its parent dies, however it dies: it watches a pipe whose only writer is
the parent, and on Linux the kernel kills it when the forkserver, which exits with the parent, goes.
Dask's worker processes are daemonic, and multiprocessing refuses children to daemonic processes for
that reason (their children could outlive them); the flag is lifted for the instant of a start only.
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

__all__ = ["GRACE_S", "START_TIMEOUT_S", "ChildError", "IsolationError", "UnitTimeout", "run_with_deadline"]

GRACE_S = 2.0  # between SIGTERM and SIGKILL
START_TIMEOUT_S = 120.0  # a child that has not loaded its call by then is stuck, not slow
_LOCK = threading.Lock()
_IDLE: list[_Child] = []


class UnitTimeout(Exception):
    """The call ran past its deadline; its process was killed (and is gone)."""

    def __init__(self, timeout_s: float, elapsed_s: float, killed_at: float, pid: int | None) -> None:
        super().__init__(f"exceeded {timeout_s:g} s (the process was killed)")
        self.timeout_s, self.elapsed_s, self.killed_at, self.pid = timeout_s, elapsed_s, killed_at, pid


class IsolationError(RuntimeError):
    """The child died without a result or could not load the call."""


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
    state = {"environ": dict(os.environ), "cwd": os.getcwd(), "sys_path": list(sys.path)}
    job = cloudpickle.dumps((state, fn, tuple(args)))
    child = _take(tuple(preload))
    healthy = False
    try:
        try:
            child.jobs.send_bytes(job)
        except OSError:  # an idle child that died meanwhile (killed from outside): one more try, on a new one
            child.stop(grace_s)
            child = _Child(tuple(preload))
            child.jobs.send_bytes(job)
        message = child.receive(start_timeout_s)
        if message is None:
            raise IsolationError(f"the child process did not load its call within {start_timeout_s:g} s")
        if message[0] == "started":
            started = time.monotonic()
            message = child.receive(timeout_s)
            if message is None:
                child.stop(grace_s)
                raise UnitTimeout(timeout_s, time.monotonic() - started, time.time(), child.pid)
        healthy = True
        if message[0] == "ok":
            return message[1]
        raise _rebuild(*message[1:])
    finally:
        if healthy:
            with _LOCK:
                _IDLE.append(child)
        else:
            child.stop(grace_s)


def _take(preload: tuple[str, ...]) -> _Child:
    with _LOCK:
        while _IDLE:
            child = _IDLE.pop()
            if child.process.is_alive():
                return child
            child.stop(0)
    return _Child(preload)


class _Child:
    """One child process and its pipes: jobs in, messages out, and a lifeline it watches."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        ctx = _context(preload)
        jobs_child, self.jobs = ctx.Pipe(duplex=False)
        self.results, results_child = ctx.Pipe(duplex=False)
        lifeline_child, self.lifeline = ctx.Pipe(duplex=False)
        forked = ctx.get_start_method() == "forkserver"
        self.process = ctx.Process(
            target=_serve,
            args=(jobs_child, results_child, lifeline_child, forked),
            name="workbench-isolated",
            daemon=True,
        )
        with _may_have_children():
            self.process.start()
        self.pid, self.stopped = self.process.pid, False
        for end in (jobs_child, results_child, lifeline_child):
            end.close()

    def receive(self, timeout_s: float) -> tuple | None:
        """The child's next message, None at the deadline; IsolationError if it died without one."""
        if not self.results.poll(max(timeout_s, 0.0)):
            return None
        try:
            return pickle.loads(self.results.recv_bytes())
        except EOFError:
            self.process.join(GRACE_S)
            raise IsolationError(f"the child process died before it returned a result ({self.exit()})") from None

    def exit(self) -> str:
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def stop(self, grace_s: float) -> None:
        """Terminate and reap the child: SIGTERM, SIGKILL after `grace_s`; then close its pipes."""
        if self.stopped:
            return
        self.stopped = True
        process = self.process
        if process.exitcode is None:
            process.terminate()
            process.join(grace_s)
        if process.exitcode is None:
            process.kill()
            process.join()
        for conn in (self.jobs, self.results, self.lifeline):
            conn.close()
        with contextlib.suppress(ValueError):
            process.close()


def _context(preload: tuple[str, ...]) -> Any:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))  # read when the server starts (first child, or after it died)
    return ctx


@contextlib.contextmanager
def _may_have_children() -> Iterator[None]:
    """Lift the daemon flag of this process (a Dask worker's) while a child starts."""
    me = multiprocessing.current_process()
    with _LOCK:
        daemonic = me.daemon
        if daemonic:
            me.daemon = False
        try:
            yield
        finally:
            if daemonic:
                me.daemon = True


def _rebuild(exc_bytes: bytes | None, summary: str, trace: str) -> BaseException:
    exc: BaseException
    try:
        exc = pickle.loads(exc_bytes) if exc_bytes is not None else ChildError(summary)
    except Exception:
        exc = ChildError(summary)
    exc.child_error = summary  # type: ignore[attr-defined]
    exc.child_traceback = trace  # type: ignore[attr-defined]
    return exc


def _serve(jobs: Connection, results: Connection, lifeline: Connection, forked: bool) -> None:
    """The child: follow the parent's death; then, one call after another, take on the caller's
    environment, load the call, say so, run it and send back its value or its exception."""
    _exit_with_parent(lifeline, forked)
    # this process runs a thread (the lifeline): a process a model starts here is spawned, never
    # forked, and numba then needs no cross-process lock (a named semaphore a kill would leave behind)
    multiprocessing.set_start_method("spawn", force=True)
    while True:
        # waiting, a terminate (the parent's exit) is a clean exit that runs the finalizers;
        # working, it kills at once
        signal.signal(signal.SIGTERM, _exit_cleanly)
        try:
            job = jobs.recv_bytes()
        except (EOFError, OSError):
            return
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            state, fn, args = pickle.loads(job)
            os.environ.clear()
            os.environ.update(state["environ"])
            os.chdir(state["cwd"])
            sys.path[:] = state["sys_path"]
        except BaseException as exc:
            _send_error(results, exc)
            continue
        results.send_bytes(pickle.dumps(("started",)))
        try:
            value = fn(*args)
            payload = cloudpickle.dumps(("ok", value))
        except BaseException as exc:
            _send_error(results, exc)
            continue
        results.send_bytes(payload)
        del state, fn, args, value, payload


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _send_error(results: Connection, exc: BaseException) -> None:
    summary = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    try:
        exc_bytes: bytes | None = cloudpickle.dumps(exc)
    except Exception:
        exc_bytes = None
    results.send_bytes(pickle.dumps(("error", exc_bytes, summary, trace)))


def _exit_with_parent(lifeline: Connection, forked: bool) -> None:
    if forked and sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            # PR_SET_PDEATHSIG: the kernel kills this process when its parent, the forkserver, exits
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()  # the parent never writes: this returns at its death
        os._exit(70)

    threading.Thread(target=watch, name="workbench-lifeline", daemon=True).start()
