"""Cast Iron Python worker, protocol 1.

A silo starts this program (python3 -c) in a process group of its own and keeps it warm: modules are imported once
and stay imported for the next file, as the seed's Ray workers did. One request at a time:

  silo -> worker   one JSON object per line on stdin
  worker -> silo   one JSON object per line on the descriptor that was stdout at start

User code never sees either channel: stdin reads /dev/null, and while a request runs its stdout and stderr (file
descriptors 1 and 2, so child processes too) go to the request's output file, which the silo reads into the error
log. Between requests they go to stderr, which the silo logs. The messages are described in the README of
Orleans.CastIron.Processing ("Python worker protocol").
"""

import asyncio
import gc
import importlib
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback

PROTOCOL = 1
MAX_ERROR = 4096


def follow_silo():
    """A silo killed outright cannot stop its workers: each one stops itself, and what it started, when its silo is gone.

    Its own process group, so a hung processor does not outlive the silo that ran it (the parent changes when the silo
    dies: the worker is handed to init or a subreaper)."""
    silo = os.getppid()

    def watch():
        while os.getppid() == silo:
            time.sleep(1)
        os.killpg(0, signal.SIGKILL) if os.getpgid(0) == os.getpid() else os._exit(70)

    threading.Thread(target=watch, name="castiron-follow-silo", daemon=True).start()


def main():
    follow_silo()
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    rest = os.dup(2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull, "r")
    os.dup2(rest, 1)

    def reply(message):
        replies.write(json.dumps(message, default=str) + "\n")
        replies.flush()

    reply({"type": "hello", "protocol": PROTOCOL, "pid": os.getpid(),
           "python": platform.python_version(), "executable": sys.executable})
    home = os.getcwd()
    for line in iter(requests.readline, b""):
        try:
            request = json.loads(line)
        except ValueError as error:
            reply({"type": "error", "error": "not a JSON request: %s" % error})
            continue
        kind = request.get("type")
        if kind == "exit":
            return
        if kind not in ("run", "call"):
            reply({"type": "error", "id": request.get("id"), "error": "unknown request type %r" % (kind,)})
            continue
        reply(handle(request, rest, home))


def handle(request, rest, home):
    answer = {"type": "done", "id": request.get("id"), "ok": True}
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    flush()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    stage = ["import"]
    try:
        os.chdir(request.get("cwd") or home)
        if request["type"] == "run":
            run_file(request, stage)
        else:
            target = load(request["callable"])
            stage[0] = "call"
            finish(target(**request.get("kwargs", {})))
    except BaseException as error:  # noqa: B902 - a processor's SystemExit or KeyboardInterrupt fails its file only
        text = "".join(traceback.format_exception(type(error), error, user_frames(error.__traceback__)))
        flush()
        os.write(2, text.encode("utf-8", "replace"))
        answer.update(ok=False, stage=stage[0], error=last_line(error)[:MAX_ERROR])
    finally:
        flush()
        os.dup2(rest, 1)
        os.dup2(rest, 2)
        os.chdir(home)
    # Whatever the processor left behind: unreferenced files closed (a tracker FIFO left open would keep the silo's
    # reader waiting), processes it started and left running in our group killed.
    gc.collect()
    fifo = request.get("fifo")
    if fifo and holds(fifo):
        answer["fifo_open"] = True
    answer["left_running"] = kill_leftovers()
    return answer


def run_file(request, stage):
    """The seed's calling rules (seed-spec F-14); stage[0] says how far it got, for the error report."""
    target = request["target"]
    path = request["path"]
    kwargs = request.get("kwargs", {})
    extra = request.get("extra", {})
    if target.get("class"):
        cls = load(target["class"])
        if not isinstance(cls, type):
            raise TypeError("worker_class %r is not a class" % target["class"])
        stage[0] = "run"
        instance = cls()
        run = getattr(instance, target["method"])
        if target.get("setup"):
            getattr(instance, target["setup"])(**kwargs)
            finish(run(path, **extra))
        else:
            finish(run(path, **dict(kwargs, **extra)))
    else:
        function = load(target["method"])
        stage[0] = "run"
        finish(function(path, **dict(kwargs, **extra)))


def user_frames(tb):
    """The traceback from the first frame that is not this program's (the user's code, or the import machinery)."""
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    return tb


def load(dotted):
    module, _, attribute = dotted.rpartition(".")
    if not module:
        raise ImportError("%r is not a dotted name module.attribute" % dotted)
    return getattr(importlib.import_module(module), attribute)


def finish(result):
    """A coroutine function's result is run to completion on a fresh event loop (the seed did the same)."""
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def last_line(error):
    text = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
    return text[-1] if text else type(error).__name__


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a processor may have replaced or closed them
            pass


def holds(path):
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink("/proc/self/fd/" + fd) == path:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def kill_leftovers():
    killed = 0
    me = os.getpid()
    group = os.getpgid(0)
    if group != me:
        return 0
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        if pid == me:
            continue
        try:
            if os.getpgid(pid) == group:
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except OSError:
            pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    return killed


if __name__ == "__main__":
    main()
