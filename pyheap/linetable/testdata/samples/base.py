# Sample code for linetable vectors. gen.py compiles this text (it is never
# imported or run as a whole); _probe() calls are run to observe f_lineno.
import functools


def simple(a, b):
    c = a + b
    return c * 2


def loop(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        elif i % 3 == 1:
            total -= 1
        else:
            continue
    while total > 100:
        total //= 2
    _probe()
    return total


def decorator(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@decorator
@functools.lru_cache(maxsize=None)
def decorated(x,
              y=3,
              *rest,
              z=4):
    return (x
            + y
            + z)


def comprehensions(xs):
    a = [x * 2 for x in xs if x]
    b = {x: y for x, y in zip(xs, xs[1:])}
    c = {x for x in xs}
    d = list(
        x
        for x in xs
        if x > 1
    )
    e = [[y for y in range(x)] for x in xs]
    _probe()
    return a, b, c, d, e


def exceptions(x):
    try:
        y = 1 / x
    except ZeroDivisionError as exc:
        y = exc
    except (TypeError, ValueError):
        raise
    else:
        y = y * 2
    finally:
        x = None
    with open(__file__) as f, open(__file__) as g:
        pass
    try:
        raise KeyError(x)
    except KeyError:
        _probe()
    return y


lam = lambda x, y=(lambda: 1): (x
                                 + y())


def multiline_call(f, a, b):
    return f(
        a,



        b,
    )


class Klass(object):
    attr = [i for i in range(3)]

    def method(self):
        return self.attr

    @property
    def prop(self):
        _probe()
        return 1

    class Inner:
        def deep(self):
            def deeper():
                def deepest():
                    return 42
                return deepest
            return deeper


def generator(n):
    for i in range(n):
        yield i
        x = yield from range(i)
    return x


async def coroutine(n):
    async with n as m:
        await m
    async for x in n:
        pass
    return [y async for y in n]


def globals_and_nonlocals():
    global lam
    v = 1

    def inner():
        nonlocal v
        v += 1
    return inner


def conditional_expr(a, b, c):
    return (a if b else
            c if a else
            b)


def chained(a, b, c):
    return (a < b < c and
            not a or
            b is not c)


def long_jump(x):
    if x:
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
        x = x + 1; x = x * 2; x = x - 3; x = x // 4; x = x % 5; x = x ** 6; x = x + 7; x = x + 8
    return x


def one_long_line(a):
    return [a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, a + 8, a + 9, a + 10, a + 11, a + 12, a + 13, a + 14, a + 15, a + 16, a + 17, a + 18, a + 19, a + 20, a + 21, a + 22, a + 23, a + 24, a + 25, a + 26, a + 27, a + 28, a + 29, a + 30, a + 31, a + 32, a + 33, a + 34, a + 35, a + 36, a + 37, a + 38, a + 39, a + 40, a + 41, a + 42, a + 43, a + 44, a + 45, a + 46, a + 47, a + 48, a + 49, a + 50, a + 51, a + 52, a + 53, a + 54, a + 55, a + 56, a + 57, a + 58, a + 59, a + 60, a + 61, a + 62, a + 63, a + 64, a + 65, a + 66, a + 67, a + 68, a + 69, a + 70, a + 71, a + 72, a + 73, a + 74, a + 75, a + 76, a + 77, a + 78, a + 79, a + 80, a + 81, a + 82, a + 83, a + 84, a + 85, a + 86, a + 87, a + 88, a + 89, a + 90, a + 91, a + 92, a + 93, a + 94, a + 95, a + 96, a + 97, a + 98, a + 99]


def empty():
    pass


def docstring_only():
    """Just a docstring."""


def starred(*a, **k):
    x, *y = a
    return {**k, 'x': x}, [*y, *a], f"{x!r:>{len(y)}} {y}"


def walrus_and_assert(xs):
    if (n := len(xs)) > 3:
        assert n, ("message"
                   "continued")
    del xs
    return n
