"""Hypothesis profiles of the fuzz suite. ``TR_WIDGETS_FUZZ=large`` (10x the examples, not derandomised)
explores; the default profile is derandomised, so CI sees the same examples on every run.

The profiles are registered here and applied per test (``props.fuzz_settings``), not loaded globally, so
other hypothesis tests keep their own settings.
"""
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                      HealthCheck.function_scoped_fixture])
settings.register_profile("tr_widgets-default", derandomize=True, **_common)
settings.register_profile("tr_widgets-large", derandomize=False, **_common)
