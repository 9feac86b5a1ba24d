"""Python processors for the tests: each records what it was given in a JSON report named by its `report` argument."""
import json
import os
import subprocess
import sys
import time

IMPORTS = {"count": 0}
IMPORTS["count"] += 1


def record(report, **what):
    what.update(pid=os.getpid(), cwd=os.getcwd(), imports=IMPORTS["count"])
    with open(report, "a") as out:
        out.write(json.dumps(what, default=str) + "\n")


def function(file_path, report, **kwargs):
    with open(file_path) as data:
        content = data.read()
    record(report, kind="function", file_path=file_path, content=content, kwargs=kwargs)


async def coroutine(file_path, report, **kwargs):
    record(report, kind="coroutine", file_path=file_path)


def tracker(file_path, report, pizza_tracker, pizza_job_id, **kwargs):
    with open(pizza_tracker, "w") as fifo:
        fifo.write("TASK parsing\n")
        fifo.flush()
        fifo.write("PROGRESS 1/4\nPROGRESS 0.5\nCOMMITTED 7\n")
    record(report, kind="tracker", job=pizza_job_id)


def tracker_left_open(file_path, report, pizza_tracker, **kwargs):
    global KEPT
    KEPT = open(pizza_tracker, "w")
    KEPT.write("TASK kept open\n")
    KEPT.flush()
    record(report, kind="tracker_left_open")


def behave(file_path, report, **kwargs):
    """What the file says: ok, raise, hang, crash, grow, exit, child."""
    with open(file_path) as data:
        what = data.read().strip()
    print("about to " + what)
    sys.stderr.write("stderr says " + what + "\n")
    if what == "raise":
        rows = ["a"]
        raise ValueError("bad row %d" % len(rows))
    if what == "hang":
        time.sleep(3600)
    if what == "crash":
        os._exit(3)
    if what == "grow":
        hog = bytearray(600 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(30)
    if what == "flood":
        line = "x" * 1023 + "\n"
        for _ in range(20 * 1024):
            sys.stdout.write(line)
        raise RuntimeError("after 20 MiB of output")
    if what == "exit":
        sys.exit(4)
    if what == "child":
        child = subprocess.Popen(["sleep", "1000"])
        record(report, kind="child", child=child.pid)
        return
    if what == "print-to-fd":
        os.system("echo from-a-child-process")
    record(report, kind="behave", what=what)


class Worker:
    def __init__(self):
        self.configured = None

    def setup(self, **kwargs):
        self.configured = kwargs

    def run(self, file_path, report=None, **kwargs):
        target = report or self.configured["report"]
        record(target, kind="class", configured=self.configured, kwargs=kwargs, file_path=file_path)


def handler(data, out, **kwargs):
    record(out, kind="handler", data=data, kwargs=kwargs)
