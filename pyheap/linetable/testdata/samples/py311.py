# Samples needing Python 3.11+ syntax.


def groups():
    try:
        raise ExceptionGroup("eg", [ValueError(1), TypeError(2)])
    except* ValueError as e:
        _probe()
        x = e
    except* TypeError:
        x = 2
    return x
