#!/usr/bin/env python3
"""Generate pyrepr test vectors from a real CPython interpreter.

Usage:
    python3 testdata/gen.py          # writes testdata/python3.N.json for the running interpreter
    python3 testdata/gen.py --all    # runs itself under every interpreter listed below

The interpreters used by --all are taken from $PYREPR_PYTHONS (space separated)
if set, otherwise from the pyenv layout /root/.pyenv/versions/3.N.*/bin/python3.N
for N in 8..13. Run from the package directory (go generate does that).

Every expected value in the JSON is printed by the interpreter itself (repr(),
str.isprintable(), unicodedata.category()); nothing is typed by hand.
"""
import glob
import json
import os
import random
import struct
import subprocess
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
MINORS = range(8, 14)


def interpreters():
    env = os.environ.get("PYREPR_PYTHONS")
    if env:
        return env.split()
    out = []
    for m in MINORS:
        hits = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (m, m)))
        if not hits:
            sys.exit("no interpreter found for 3.%d (set PYREPR_PYTHONS)" % m)
        out.append(hits[-1])
    return out


def ranges(pred):
    """Inclusive [start, end] ranges of code points for which pred holds."""
    out, start = [], None
    for c in range(0x110000 + 1):
        p = c < 0x110000 and pred(c)
        if p and start is None:
            start = c
        elif not p and start is not None:
            out.append([start, c - 1])
            start = None
    return out


def check_printable_matches_repr():
    # str.isprintable() and repr() both use Py_UNICODE_ISPRINTABLE; make sure.
    for c in range(0x80, 0x110000):
        ch = chr(c)
        if (repr(ch) == "'" + ch + "'") != ch.isprintable():
            raise SystemExit("isprintable/repr disagree at U+%04X" % c)


def str_vectors(rng):
    s = []
    s += ["", "hello", "hello world", "a" * 40, "tab\there", "nl\nx", "cr\rx", "\\", "\\\\n"]
    # Quote handling: each quote alone, both, mixed with backslashes.
    s += ["'", '"', "'\"", "\"'", "it's", 'say "hi"', "it's \"x\"", "''", '""', "\\'", '\\"', "'''", "a'b\"c'd"]
    s += [chr(c) for c in range(0x00, 0x100)]  # every ASCII and Latin-1 char alone
    s += ["".join(chr(c) for c in range(0x00, 0x100))]
    special = [
        0x200B, 0x200C, 0x200D, 0x200E, 0x2060, 0xFEFF, 0x00AD, 0x061C, 0x180E,  # Cf
        0x00A0, 0x1680, 0x2000, 0x2007, 0x202F, 0x205F, 0x3000,  # Zs
        0x2028, 0x2029,  # Zl Zp
        0x0300, 0x0301, 0x0483, 0x20DD, 0x1AB0,  # combining marks
        0x0378, 0x0379, 0x0530, 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF, 0xE0000,  # unassigned / noncharacters
        0xE000, 0xF8FF, 0xF0000, 0x100000,  # Co
        0xD800, 0xDBFF, 0xDC00, 0xDFFF,  # Cs
        0x0100, 0x0391, 0x044F, 0x05D0, 0x0627, 0x0915, 0x0E01, 0x3042, 0x4E2D, 0xAC00, 0xFFFD, 0xFF01,
        0x10000, 0x1D11E, 0x1F600, 0x1F9D1, 0x20000, 0x2A6D6, 0xE0001, 0xE0020, 0xE007F,
        # assigned only in recent Unicode versions (printability differs by Python version)
        0x0870, 0x1B4C, 0x1E290, 0x1FA96, 0x30000, 0x31350, 0x1FAF0, 0x2FFC, 0x31EF, 0x2EBF0, 0x2EE5D,
    ]
    s += [chr(c) for c in special]
    s += ["x" + chr(c) + "'" for c in special]
    s += ["\ud83d\ude00", "a\ud800b", "\udfff\ud800", "caf\u00e9 \u00e0 la cr\u00e8me", "\u65e5\u672c\u8a9e",
          "e\u0301", "\U0001f468\u200d\U0001f469", "\x1b[0m", "\x7f\x80\x9f\xa0\xff"]
    # Code points sampled across the whole range, one per string.
    step = 0x110000 // 1500
    for i in range(1500):
        s.append(chr(i * step + rng.randrange(step)))
    # Random mixed strings drawn from assorted pools.
    pools = [
        lambda: rng.randrange(0x20, 0x7F),
        lambda: rng.randrange(0x00, 0x100),
        lambda: rng.randrange(0x100, 0x10000),
        lambda: rng.randrange(0x10000, 0x110000),
        lambda: rng.choice([0x27, 0x22, 0x5C, 0x09, 0x0A, 0x0D, 0x00]),
        lambda: rng.randrange(0xD800, 0xE000),
        lambda: rng.choice(special),
    ]
    for _ in range(600):
        n = rng.randrange(1, 12)
        s.append("".join(chr(rng.choice(pools)()) for _ in range(n)))
    return [{"cps": [ord(ch) for ch in x], "repr": repr(x)} for x in s]


def bytes_vectors(rng):
    b = [bytes([i]) for i in range(256)]
    b += [bytes(range(256)), b"", b"hello", b"'", b'"', b"'\"", b"it's", b'say "hi"', b"\\'", b"'''",
          b"a'b\"c", b"\x00\xff", b"\t\n\r\x0b\x0c"]
    for _ in range(300):
        n = rng.randrange(1, 16)
        b.append(bytes(rng.choice([rng.randrange(256), 0x27, 0x22, 0x5C]) for _ in range(n)))
    return [{"hex": x.hex(), "repr": repr(x)} for x in b]


def float_bits(f):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", f))[0]


def float_vectors(rng):
    fs = [0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, 100.0, 1e16, 1e15, 1e17, 1e-5, 1e-4, 1.5e-5, 0.00015,
          9999999999999998.0, 9999999999999999.0, 1234567890123456.0, 12345678901234567.0, 123456789.0,
          5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
          float("inf"), float("-inf"), float("nan"), -float("nan"), 1 / 3, 2 / 3, 1e22, 1e23, 1e300, 1e-300,
          123.456, -0.001, 0.001, 3.141592653589793, 2.718281828459045, 4.35, 0.3, 0.1 + 0.2, 1e308, 9e-5,
          9.999999999999999e-05, 0.0001, 0.00010000000000000002, 1e+16 - 2, 2.0 ** 53, 2.0 ** 54, 2.0 ** -1074,
          2.0 ** 1023, 8.41e21, 5e-310, 1.0e7]
    for e in range(-330, 310):
        fs.append(float("1e%d" % e))
        fs.append(float("9.87654321e%d" % e))
    for e in range(-1080, 1024, 7):
        fs.append(2.0 ** e)
    for _ in range(1000):  # arbitrary bit patterns (finite, inf and nan included)
        fs.append(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0])
    for _ in range(400):  # short decimals near the fixed/exponent switch points
        digits = rng.randrange(1, 18)
        fs.append(float("%de%d" % (rng.randrange(10 ** digits), rng.randrange(-25, 25))))
    for _ in range(200):
        fs.append(rng.uniform(-1e6, 1e6))
    return [{"bits": float_bits(f), "repr": repr(f)} for f in fs]


def int_digits(v, bits):
    v = abs(v)
    out = []
    while v:
        out.append(v & ((1 << bits) - 1))
        v >>= bits
    return out


def memory_digits(v):
    """CPython's stored digit array, read from the object (CPython 64-bit, 30-bit digits)."""
    import ctypes
    addr = id(v)
    tag = ctypes.c_ssize_t.from_address(addr + 16).value
    if sys.version_info >= (3, 12):
        n, neg = tag >> 3, (tag & 3) == 2
    else:
        n, neg = abs(tag), tag < 0
    return neg, [ctypes.c_uint32.from_address(addr + 24 + 4 * i).value for i in range(n)]


def int_vectors(rng):
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    vs = [0, 1, -1, 2, -2, 10, 255, 256, 2 ** 15 - 1, 2 ** 15, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), 2 ** 31,
          2 ** 32, 2 ** 60, 2 ** 60 - 1, -(2 ** 60), 2 ** 63 - 1, -(2 ** 63), 2 ** 63, 2 ** 64, -(2 ** 100),
          10 ** 50, -(10 ** 50), 10 ** 18, 10 ** 19, 3 ** 200, -(7 ** 500), 2 ** 4000, 10 ** 1200 + 1]
    for _ in range(200):
        bits = rng.randrange(1, 400)
        v = rng.getrandbits(bits)
        vs.append(-v if rng.random() < 0.5 else v)
    out = []
    native = sys.int_info.bits_per_digit
    for v in vs:
        d = int_digits(v, native)
        if sys.implementation.name == "cpython" and sys.int_info.sizeof_digit == 4:
            neg, mem = memory_digits(v)
            if mem != d or neg != (v < 0):
                raise SystemExit("digit array of %r differs from memory: %r vs %r" % (v, d, mem))
        out.append({"neg": v < 0, "bits": native, "digits": d, "repr": repr(v)})
        if native != 15:
            out.append({"neg": v < 0, "bits": 15, "digits": int_digits(v, 15), "repr": repr(v)})
    return out


def generate():
    rng = random.Random(20240601)
    check_printable_matches_repr()
    data = {
        "python": sys.version.split()[0],
        "unidata_version": unicodedata.unidata_version,
        "printable_ranges": ranges(lambda c: chr(c).isprintable()),
        "unassigned_ranges": ranges(lambda c: unicodedata.category(chr(c)) == "Cn"),
        "str": str_vectors(rng),
        "bytes": bytes_vectors(rng),
        "float": float_vectors(rng),
        "int": int_vectors(rng),
    }
    path = os.path.join(HERE, "python%d.%d.json" % sys.version_info[:2])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%s): %d str, %d bytes, %d float, %d int" % (
        os.path.relpath(path), data["python"], len(data["str"]), len(data["bytes"]),
        len(data["float"]), len(data["int"])))


if __name__ == "__main__":
    if sys.argv[1:] == ["--all"]:
        for exe in interpreters():
            subprocess.check_call([exe, os.path.abspath(__file__)])
    else:
        generate()
