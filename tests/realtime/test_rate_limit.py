from dashboard.realtime.rate_limit import BURST, TOLERATED_AFTER_WARNING, TokenBucket, Verdict


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_40_is_accepted_then_the_41st_warns() -> None:
    bucket = TokenBucket(clock=FakeClock())
    assert [bucket.take() for _ in range(int(BURST))] == [Verdict.ACCEPT] * int(BURST)
    assert bucket.take() is Verdict.WARN
    assert bucket.take() is Verdict.DROP


def test_20_per_second_sustained_is_never_limited() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock=clock)
    for _ in range(2000):
        clock.now += 0.05
        assert bucket.take() is Verdict.ACCEPT


def test_still_flooding_after_the_warning_closes() -> None:
    bucket = TokenBucket(clock=FakeClock())
    verdicts = [bucket.take() for _ in range(int(BURST) + 1 + TOLERATED_AFTER_WARNING + 1)]
    assert verdicts[-1] is Verdict.CLOSE
    assert verdicts.count(Verdict.WARN) == 1


def test_a_client_that_slows_down_recovers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock=clock)
    for _ in range(int(BURST) + 5):
        bucket.take()
    clock.now += 10
    assert bucket.take() is Verdict.ACCEPT
    for _ in range(int(BURST) - 1):
        bucket.take()
    assert bucket.take() is Verdict.WARN
