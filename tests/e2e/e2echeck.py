"""What the end-to-end tests' Python checks share (run with PYTHONPATH at
tests/e2e, as scenario_lib.sh runs scncheck.py):

    from e2echeck import Checks, gs_output
    res = Checks(test)              res(ok, name, why="") prints PASS or FAIL
    objs, reqs, total = gs_output(path)
                                    gatescope's JSON lines, its request
                                    events and its last total line
    res.exit()                      exit status 1 if a check failed
"""
import json
import sys


class Checks:
    def __init__(self, test):
        self.test = test
        self.fails = 0

    def __call__(self, ok, name, why=""):
        self.fails += not ok
        print(f"PASS {self.test}: {name}" if ok else f"FAIL {self.test}: {name}: {why}")

    def exit(self):
        sys.exit(1 if self.fails else 0)


def gs_output(path):
    objs = [json.loads(line) for line in open(path) if line.startswith("{")]
    reqs = [o for o in objs if o.get("type") == "request"]
    total = [o for o in objs if o.get("type") == "total"][-1]
    return objs, reqs, total
