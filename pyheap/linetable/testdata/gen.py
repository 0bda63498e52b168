#!/usr/bin/env python3
"""Generate linetable test vectors from a real CPython interpreter.

Usage (from the package directory; go generate does that):
    python3 testdata/gen.py          # writes testdata/python3.N.json for the running interpreter
    python3 testdata/gen.py --all    # runs itself under every interpreter (3.8 .. 3.15; 3.14 and 3.15 from Debian sid, run through its loader)

--all takes the interpreters from $LINETABLE_PYTHONS (space separated) if set,
otherwise from /root/.pyenv/versions/3.N.*/bin/python3.N.

For every code object compiled from testdata/samples/*.py, from generated
sources (huge line gaps, long jumps, very long functions) and from a few
stdlib modules, the JSON records the raw line table (co_lnotab for 3.8/3.9,
co_linetable for 3.10+), co_firstlineno, the bytecode length, and the line
of every 2-byte code unit:
  * 3.10+: from code.co_lines() (None means "no line");
  * 3.8/3.9: from dis.findlinestarts() expanded over offsets (the line of
    the last line start <= offset), which is what frame.f_lineno reports.
Each of those is cross-checked against the interpreter's own C function
PyCode_Addr2Line (via ctypes), which also supplies the "extra" entries for
odd, negative and past-the-end offsets. "observed" holds (f_lasti, f_lineno)
pairs read from live frames while running some of the samples.

"synthetic" holds random, malformed tables installed with code.replace() and
decoded by PyCode_Addr2Line at "synthetic_offsets". They are shaped so that
CPython reads at most the bytes object's NUL terminator past the table and
never relies on undefined behaviour (no trailing zero-length 3.10 ranges, no
varint shifts beyond 32 bits, no line overflow).
"""
import ctypes
import dis
import glob
import json
import os
import random
import subprocess
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
MINOR = sys.version_info[1]

addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int


def interpreters():
    env = os.environ.get("LINETABLE_PYTHONS")
    if env:
        return env.split()
    out = []
    for m in range(8, 14):
        hits = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (m, m)))
        if not hits:
            sys.exit("no interpreter found for 3.%d (set LINETABLE_PYTHONS)" % m)
        out.append(hits[-1])
    return out


def generated_sources():
    """Sources exercising table encodings at their limits."""
    blank = "\n"
    yield "gen_gaps", (
        "def gaps(x):\n"
        "    x = 1\n" + blank * 300 +
        "    x = 2\n" + blank * 5000 +
        "    x = 3\n" + blank * 40000 +
        "    return x\n")
    yield "gen_negative", (
        "def negative(xs):\n"
        "    for x in (xs +\n"
        "              xs):\n" + blank * 300 +
        "        y = x\n" + blank * 130 +
        "    return f(\n"
        "        xs,\n" + blank * 3000 +
        "        y)\n")
    body = "".join("        if x > %d:\n            x = x - %d\n" % (i, i) for i in range(1200))
    yield "gen_long_function", "def long_function(x):\n    while x:\n" + body + "    return x\n"
    yield "gen_offset_start", blank * 1000 + "def late(a):\n    return a\n" + blank * 200 + "late2 = lambda: 0\n"
    cols = " + ".join("a%d" % i for i in range(80))
    yield "gen_wide", "def wide(%s):\n    return (%s,\n            %s)\n" % (
        ", ".join("a%d" % i for i in range(80)), cols, cols)
    jumps = "".join("        y = y + %d\n" % i for i in range(400))
    yield "gen_long_jump_back", "def back(y):\n    while y < 10:\n" + jumps + "    return y\n"


def sample_sources():
    files = ["base.py"]
    if MINOR >= 10:
        files.append("py310.py")
    if MINOR >= 11:
        files.append("py311.py")
    if MINOR >= 12:
        files.append("py312.py")
    for name in files:
        with open(os.path.join(HERE, "samples", name)) as f:
            yield "samples/" + name, f.read()


def stdlib_sources():
    import textwrap
    import json.decoder
    for mod in (textwrap, json.decoder):
        with open(mod.__file__) as f:
            yield "stdlib:" + mod.__name__, f.read()


def walk(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from walk(c)


def table_of(code):
    return code.co_lnotab if MINOR <= 9 else code.co_linetable


def expected_lines(code):
    """Line per 2-byte unit from the documented Python-level API."""
    n = len(code.co_code) // 2
    if MINOR <= 9:
        starts = list(dis.findlinestarts(code))
        out, k, cur = [], 0, None
        for unit in range(n):
            while k < len(starts) and starts[k][0] <= unit * 2:
                cur = starts[k][1]
                k += 1
            out.append(cur)
        return out
    out = [None] * n
    covered = [False] * n
    for start, end, line in code.co_lines():
        for off in range(start, end, 2):
            out[off // 2] = line
            covered[off // 2] = True
    if not all(covered):
        raise SystemExit("co_lines does not cover %s" % code.co_name)
    return out


def c_line(code, off):
    line = addr2line(code, off)
    return None if line == -1 else line


def record(origin, code, observed):
    lines = expected_lines(code)
    for unit, want in enumerate(lines):
        got = c_line(code, unit * 2)
        if got != want:
            raise SystemExit("%s %s offset %d: Python API says %r, PyCode_Addr2Line says %r" % (
                origin, code.co_name, unit * 2, want, got))
    n = len(code.co_code)
    extra_offsets = sorted({-2, -1, 1, 3, n - 1, n, n + 1, n + 2, n + 100} - {x for x in range(0, n, 2)})
    extra = [[off, c_line(code, off)] for off in extra_offsets if off >= -2]
    obs = sorted(set(observed.get(id(code), [])))
    for off, line in obs:
        if c_line(code, off) != line:
            raise SystemExit("%s: live frame at %d had f_lineno %r" % (code.co_name, off, line))
    return {
        "origin": origin,
        "name": getattr(code, "co_qualname", code.co_name),
        "firstlineno": code.co_firstlineno,
        "table": table_of(code).hex(),
        "code_len": n,
        "lines": lines,
        "extra": extra,
        "observed": [list(o) for o in obs],
    }


def run_probes(origin, module_code):
    """Execute a sample module and call some of its functions, noting
    (f_lasti, f_lineno) of each frame that calls _probe()."""
    seen = {}

    def _probe():
        f = sys._getframe(1)
        seen.setdefault(id(f.f_code), []).append((f.f_lasti, f.f_lineno))

    ns = {"_probe": _probe, "__name__": "samples", "__file__": __file__}
    exec(module_code, ns)
    calls = {
        "samples/base.py": lambda: (ns["loop"](10), ns["comprehensions"]([1, 2, 3]),
                                    ns["exceptions"](1), ns["Klass"]().prop),
        "samples/py310.py": lambda: ns["matcher"](3.5),
        "samples/py311.py": lambda: ns["groups"](),
        "samples/py312.py": lambda: ns["Box"]().get(1),
    }
    calls[origin]()
    return seen


SYNTHETIC_OFFSETS = list(range(-2, 80)) + list(range(80, 700, 9))


def random_table(rng):
    n = rng.randrange(0, 41)
    while True:
        if MINOR <= 10:
            t = bytearray(rng.choice([rng.randrange(256), rng.randrange(8), 0x80, 0x7F, 0]) for _ in range(n))
            if MINOR == 10 and t and t[-2 if len(t) % 2 == 0 else -1] == 0:
                continue  # CPython would read past the NUL terminator
        else:
            t = bytearray(0x80 | rng.randrange(128) if rng.random() < 0.45 else rng.randrange(128)
                          for _ in range(n))
            run = longest = 0
            for b in t:
                run = run + 1 if b & 0x40 else 0
                longest = max(longest, run)
            if longest >= 4:
                continue  # keep varints short: no shift UB, no int overflow
        return bytes(t)


def synthetic():
    rng = random.Random(1000 + MINOR)
    template = (lambda: None).__code__
    attr = "co_lnotab" if MINOR <= 9 else "co_linetable"
    out = []
    for _ in range(150):
        table = random_table(rng)
        first = rng.choice([1, 5, 100, 1 << 20])
        code = template.replace(**{attr: table, "co_firstlineno": first})
        out.append({"table": table.hex(), "firstlineno": first,
                    "lines": [c_line(code, off) for off in SYNTHETIC_OFFSETS]})
    return out


def generate():
    entries, probed = [], 0
    keep = []  # keep code objects alive so id() stays unique
    for origin, src in list(sample_sources()) + list(generated_sources()) + list(stdlib_sources()):
        top = compile(src, origin, "exec")
        keep.append(top)
        observed = run_probes(origin, top) if origin.startswith("samples/") else {}
        probed += sum(len(v) for v in observed.values())
        for code in walk(top):
            entries.append(record(origin, code, observed))
    if probed < 4:
        raise SystemExit("too few live frame observations")
    data = {"python": sys.version.split()[0], "minor": MINOR, "code": entries,
            "synthetic_offsets": SYNTHETIC_OFFSETS, "synthetic": synthetic()}
    path = os.path.join(HERE, "python3.%d.json" % MINOR)
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%s): %d code objects, %d offsets, %d live observations, %d synthetic tables" % (
        os.path.relpath(path), data["python"], len(entries),
        sum(len(e["lines"]) + len(e["extra"]) for e in entries), probed, len(data["synthetic"])))


if __name__ == "__main__":
    if sys.argv[1:] == ["--all"]:
        for exe in interpreters():
            subprocess.check_call([exe, os.path.abspath(__file__)])
    else:
        generate()
