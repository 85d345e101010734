# SPDX-License-Identifier: MIT
"""A fake RAPL package counter for the energy tests: the ground truth that
the tests control. The counter file of a copied powercap fixture tree
(energy_uj) is advanced at a known power in real time."""
import os
import threading
import time

PKG0 = "sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj"


class Counter(threading.Thread):
    """Advances the counter at `path` at `watts` in real time, every 1 ms.
    start() it before the agent, then stop.set() and join()."""

    def __init__(self, path, watts):
        super().__init__(daemon=True)
        self.path = path
        self.watts = watts
        self.stop = threading.Event()
        with open(path) as f:
            self.base = int(f.read())

    def run(self):
        # the "hardware" must keep its pace on a loaded machine: real-time
        # priority for this thread when allowed (root), else best effort
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except (OSError, AttributeError):
            pass
        t0 = time.monotonic()
        with open(self.path, "r+") as f:
            while not self.stop.wait(0.001):
                f.seek(0)
                f.write("%d\n" % (self.base + round(self.watts * 1e6 * (time.monotonic() - t0))))
                f.truncate()
                f.flush()
