"""The security suite: isolation, bad input, escaping, abuse limits, health and logs."""

from hypothesis import HealthCheck, settings

# No example database in the checkout, room for a slow shared machine, and function-scoped fixtures (the
# database) shared by a test's examples on purpose: each example checks what it changed itself.
settings.register_profile(
    "security",
    max_examples=60,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("security")
