"""Settings read from the environment: retention."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


@pytest.mark.parametrize(("raw", "days"), [("", None), ("30", 30), (" 365 ", 365)])
def test_interview_retention_days_is_read_as_whole_days(raw, days):
    assert load_settings({"INTERVIEW_RETENTION_DAYS": raw}).retention_days == days


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "forever", "99999999"])
def test_a_retention_that_is_not_a_sensible_number_of_days_is_one_clear_error(raw):
    with pytest.raises(SettingsError) as err:
        load_settings({"INTERVIEW_RETENTION_DAYS": raw})
    assert "INTERVIEW_RETENTION_DAYS" in str(err.value) and "\n" not in str(err.value)
