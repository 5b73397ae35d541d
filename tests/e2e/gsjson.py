#!/usr/bin/env python3
"""Read a field from gatescope's JSON output for end-to-end assertions.

gsjson.py FILE BACKEND PATH [PATH...]
                              field PATH (dots) of BACKEND in the "total" line,
                              one line per PATH; "absent" if the backend is
                              not there
gsjson.py FILE --count TYPE   number of lines of that "type"
gsjson.py FILE --top PATH     top-level field of the "total" line
gsjson.py FILE --where TYPE KEY VALUE [KEY VALUE...]
                              number of lines of that "type" whose fields KEY
                              (dotted paths) print as VALUE (strings bare)
gsjson.py FILE --sum TYPE KEY sum of field KEY over lines of that "type"
"""
import json, sys

def lines(path):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{n}: not JSON ({e}): {line[:120]}")

def total(path):
    t = [o for o in lines(path) if o.get("type") == "total"]
    if not t:
        sys.exit(f"{path}: no total line")
    return t[-1]

def dig(obj, path):
    for part in path.split("."):
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj

def shown(v):
    return v if isinstance(v, str) else json.dumps(v)

def matches(obj, typ, pairs):
    if obj.get("type") != typ:
        return False
    return all(shown(dig(obj, k)) == v for k, v in zip(pairs[::2], pairs[1::2]))

def main():
    path, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
    if a == "--where":
        pairs = sys.argv[4:]
        if not pairs or len(pairs) % 2:
            sys.exit("--where TYPE needs KEY VALUE pairs")
        print(sum(1 for o in lines(path) if matches(o, b, pairs)))
    elif a == "--sum":
        key = sys.argv[4]
        print(sum(dig(o, key) or 0 for o in lines(path) if o.get("type") == b))
    elif a == "--count":
        print(sum(1 for o in lines(path) if o.get("type") == b))
    elif a == "--top":
        print(json.dumps(dig(total(path), b)))
    else:
        for be in total(path).get("backends", []):
            if be.get("backend") == a:
                for p in sys.argv[3:]:
                    print(json.dumps(dig(be, p)))
                return
        for p in sys.argv[3:]:
            print("absent")

main()
