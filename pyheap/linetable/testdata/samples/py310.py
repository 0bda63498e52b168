# Samples needing Python 3.10+ syntax.


def matcher(v):
    match v:
        case [x, y, *rest]:
            return x
        case {"k": value, **kw}:
            return value
        case Point(x=0, y=yy) if yy > 0:
            return yy
        case str() | bytes():
            return "text"
        case _:
            _probe()
            return None


class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y
