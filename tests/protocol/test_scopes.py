import pytest

from dashboard.protocol.scopes import HOSPITAL_SCOPE, InvalidScope, Scope, parse_scope


def test_scopes_round_trip() -> None:
    assert parse_scope("hospital") == HOSPITAL_SCOPE
    assert parse_scope("dept:ICU") == Scope("ICU")
    assert str(Scope("ICU")) == "dept:ICU"


@pytest.mark.parametrize(
    "value", ["", "Hospital", "dept:", "dept:icu", "dept:A-B", "dept:" + "A" * 17, None, 5, ["hospital"]]
)
def test_invalid_scopes_are_refused(value: object) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(value)


def test_groups_are_per_visibility_class_and_valid_channel_names() -> None:
    assert Scope("ER").group(with_revenue=True) == "dash.dept.ER.full"
    assert HOSPITAL_SCOPE.group(with_revenue=False) == "dash.hospital.basic"
