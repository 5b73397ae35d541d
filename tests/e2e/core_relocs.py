#!/usr/bin/env python3
"""Do a BPF object's CO-RE relocations resolve against a kernel's BTF?

    core_relocs.py KERNEL_BTF OBJECT

Runs `bpftool -d gen min_core_btf`, which computes every CO-RE relocation
of the object against that BTF with libbpf's own matching and logs each
one, then sorts them:
  resolved   a matching candidate was found;
  guarded    not found, but the program asks first: an existence check
             (field_exists, type_exists, enumval_exists), or an access
             whose existence check failed too (the branch the verifier
             prunes);
  missing    not found and not guarded: the program would be rejected.
Prints one summary line and each missing relocation; exits 1 if any.
"""
import re
import subprocess
import sys

HEADER = re.compile(r"prog '([^']+)': relo #(\d+): <(\w+)> \[\d+\] (.*)$")
OUTCOME = re.compile(r"prog '([^']+)': relo #(\d+): (matching candidate|no matching targets)")

# Which existence check guards an access of each kind.
GUARD = {
    "byte_off": "field_exists", "byte_sz": "field_exists",
    "field_signed": "field_exists", "lshift_u64": "field_exists",
    "rshift_u64": "field_exists", "enumval_value": "enumval_exists",
    "type_id_target": "type_exists", "type_size": "type_exists",
}
CHECKS = set(GUARD.values()) | {"type_matches"}


def spec_of(text):
    """'struct a.b (0:1 @ offset 8)' -> 'struct a.b'; 'enum e::V = 2' -> 'enum e::V'."""
    return re.sub(r" (\(.*\)|= -?\d+)$", "", text.strip())


def parse(log):
    relos, found = {}, set()
    for line in log.splitlines():
        m = HEADER.search(line)
        if m:
            relos[(m[1], m[2])] = (m[3], spec_of(m[4]))
            continue
        m = OUTCOME.search(line)
        if m and m[3] == "matching candidate":
            found.add((m[1], m[2]))
    return relos, found


def classify(relos, found):
    """-> (guarded, missing): one entry per relocation not found."""
    absent = [(prog, kind, spec) for (prog, n), (kind, spec) in sorted(relos.items())
              if (prog, n) not in found]
    checks_failed = set(absent)
    guarded, missing = [], []
    for prog, kind, spec in absent:
        if kind in CHECKS or (prog, GUARD.get(kind), spec) in checks_failed:
            guarded.append(f"{kind} {spec}")
        else:
            missing.append(f"{prog}: <{kind}> {spec}")
    return guarded, missing


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    btf, obj = sys.argv[1:]
    run = subprocess.run(["bpftool", "-d", "gen", "min_core_btf", btf, "/dev/null", obj],
                         capture_output=True, text=True)
    relos, found = parse(run.stdout + run.stderr)
    if run.returncode or not relos:
        print(f"bpftool gen min_core_btf failed ({run.returncode}) or logged no relocation:")
        print("\n".join((run.stdout + run.stderr).splitlines()[-5:]))
        return 1
    guarded, missing = classify(relos, found)
    print(f"{len(relos)} relocations: {len(relos) - len(guarded) - len(missing)} resolved, "
          f"{len(guarded)} absent and guarded ({', '.join(sorted(set(guarded))) or 'none'}), "
          f"{len(missing)} missing")
    for m in missing:
        print(f"missing: {m}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
