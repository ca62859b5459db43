import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.sources.url_redaction import redact
from hospital_dash.envreader import EnvReader


def test_missing_secret_key_in_production_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        EnvReader({}).secret("SECRET_KEY", required=True, fallback="x")


def test_demo_and_test_run_without_a_secret_key() -> None:
    assert EnvReader({}).secret("SECRET_KEY", required=False, fallback="fallback") == "fallback"


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="at least 32"):
        EnvReader({"SECRET_KEY": "short"}).secret("SECRET_KEY", required=True, fallback="x")


def test_malformed_numbers_and_booleans_name_the_variable() -> None:
    env = EnvReader({"MAX_CONNECTIONS_PER_USER": "ten", "DEBUG": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="MAX_CONNECTIONS_PER_USER must be a whole number"):
        env.int("MAX_CONNECTIONS_PER_USER", default=10)
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env.bool("DEBUG", default=False)


def test_redis_url_with_wrong_scheme_is_refused_without_showing_the_password() -> None:
    env = EnvReader({"REDIS_URL": "http://user:hunter2@example/0"})
    with pytest.raises(ImproperlyConfigured) as info:
        env.url("REDIS_URL", schemes=("redis", "rediss"))
    assert "hunter2" not in str(info.value)
    assert "REDIS_URL" in str(info.value)


def test_missing_url_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="MONGO_URL must be a URL"):
        EnvReader({}).url("MONGO_URL", schemes=("mongodb",))


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE"):
        EnvReader({"TIME_ZONE": "Mars/Olympus"}).timezone("TIME_ZONE", default="UTC")


def test_choice_lists_the_allowed_values() -> None:
    with pytest.raises(ImproperlyConfigured, match="poll, fail"):
        EnvReader({"WATCH_FALLBACK": "retry"}).choice("WATCH_FALLBACK", ("poll", "fail"), default="poll")


def test_redact_hides_only_the_password() -> None:
    assert redact("mongodb://app:s3cret@db.internal:27017/x") == "mongodb://app:***@db.internal:27017/x"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_numbers_outside_their_range_name_the_range() -> None:
    env = EnvReader({"WATCH_COALESCE_MS": "400", "SOURCE_CONNECT_TIMEOUT_S": "0"})
    with pytest.raises(ImproperlyConfigured, match="WATCH_COALESCE_MS must be between 1 and 250"):
        env.int("WATCH_COALESCE_MS", default=100, minimum=1, maximum=250)
    with pytest.raises(
        ImproperlyConfigured, match=r"SOURCE_CONNECT_TIMEOUT_S must be a number of at least 0\.1"
    ):
        env.float("SOURCE_CONNECT_TIMEOUT_S", default=5.0, minimum=0.1)


def test_trusted_proxies_are_addresses_and_networks_in_canonical_form() -> None:
    env = EnvReader({"TRUSTED_PROXIES": " 10.0.0.1, 10.1.0.0/16 ,::1,2001:DB8::/32"})
    assert env.networks("TRUSTED_PROXIES", default=[]) == ["10.0.0.1", "10.1.0.0/16", "::1", "2001:db8::/32"]
    assert EnvReader({}).networks("TRUSTED_PROXIES", default=[]) == []


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.1/8", "10.0.0.300", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_not_an_address_or_network_names_the_variable(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES must be") as info:
        EnvReader({"TRUSTED_PROXIES": f"127.0.0.1,{value}"}).networks("TRUSTED_PROXIES", default=[])
    assert repr(value) in str(info.value)


def test_allowed_origins_must_be_scheme_host_and_port() -> None:
    env = EnvReader({"WS_ALLOWED_ORIGINS": "https://wall.example, http://10.0.0.5:8000"})
    assert env.origins("WS_ALLOWED_ORIGINS", default=[]) == ["https://wall.example", "http://10.0.0.5:8000"]
    with pytest.raises(ImproperlyConfigured, match="WS_ALLOWED_ORIGINS must be"):
        EnvReader({"WS_ALLOWED_ORIGINS": "wall.example"}).origins("WS_ALLOWED_ORIGINS", default=[])
    with pytest.raises(ImproperlyConfigured, match="WS_ALLOWED_ORIGINS must be"):
        EnvReader({"WS_ALLOWED_ORIGINS": "https://wall.example/"}).origins("WS_ALLOWED_ORIGINS", default=[])


def test_sentinels_are_host_port_pairs() -> None:
    env = EnvReader({"REDIS_SENTINELS": "s1.internal:26379, 10.0.0.7:26380"})
    assert env.hostports("REDIS_SENTINELS") == [("s1.internal", 26379), ("10.0.0.7", 26380)]
    assert EnvReader({}).hostports("REDIS_SENTINELS") == []


@pytest.mark.parametrize("value", ["s1.internal", ":26379", "s1:port", "s1:0", "s1:70000"])
def test_a_sentinel_that_is_not_host_port_names_the_variable(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_SENTINELS must be") as info:
        EnvReader({"REDIS_SENTINELS": f"s0:26379,{value}"}).hostports("REDIS_SENTINELS")
    assert repr(value) in str(info.value)


def test_redis_url_and_sentinels_together_are_refused() -> None:
    env = EnvReader({"REDIS_URL": "redis://r:6379/0", "REDIS_SENTINELS": "s1:26379"})
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL and REDIS_SENTINELS: set one"):
        env.one_of("REDIS_URL", "REDIS_SENTINELS")
    EnvReader({"REDIS_SENTINELS": "s1:26379"}).one_of("REDIS_URL", "REDIS_SENTINELS")


@pytest.mark.parametrize("value", ["0", "1.01", "-0.5", "nan", "inf", "ninety"])
def test_threshold_occupancy_must_be_a_rate_above_zero_up_to_one(value: str) -> None:
    env = EnvReader({"THRESHOLD_OCCUPANCY": value})
    with pytest.raises(
        ImproperlyConfigured, match="THRESHOLD_OCCUPANCY must be a number above 0 and at most 1"
    ):
        env.positive("THRESHOLD_OCCUPANCY", default=0.9, maximum=1.0)


def test_threshold_occupancy_accepts_one_and_defaults_to_the_contract() -> None:
    assert (
        EnvReader({"THRESHOLD_OCCUPANCY": "1"}).positive("THRESHOLD_OCCUPANCY", default=0.9, maximum=1.0)
        == 1.0
    )
    assert EnvReader({}).positive("THRESHOLD_OCCUPANCY", default=0.9, maximum=1.0) == 0.9
    assert (
        EnvReader({"THRESHOLD_BOARDING_HOURS": "2.5"}).positive("THRESHOLD_BOARDING_HOURS", default=4.0)
        == 2.5
    )
