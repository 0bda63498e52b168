# Samples needing Python 3.12+ syntax.


def generic[T](x: T) -> T:
    return x


class Box[T]:
    def get[U](self, u: U) -> tuple[T, U]:
        _probe()
        return (self, u)


type Alias[K] = dict[K, list[K]]


def fstrings(x):
    return f"{x + 1} and {f'{x!r}'}"
