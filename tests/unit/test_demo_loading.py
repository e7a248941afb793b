"""The demo data is loaded once per installation: the flag goes through the ServiceFlags port
(interfaces run no SQL), so a later start leaves the data as the users changed it."""

from __future__ import annotations

from interfaces.demo import DEMO_FLAG, ORGS, load_demo
from tests.unit.fakes import FakeEventStore, fake_services


def test_demo_data_is_loaded_once_then_the_flag_keeps_it_as_it_is() -> None:
    services = fake_services()
    store = services.store
    assert isinstance(store, FakeEventStore)

    assert load_demo(services) is True
    assert services.flags.is_set(DEMO_FLAG)
    for org in ORGS:
        assert services.app.accounting_settings.for_export(org.org_id) is not None
    appended = sum(len(events) for events in store.events.values())
    assert appended > 0

    assert load_demo(services) is False
    assert sum(len(events) for events in store.events.values()) == appended


def test_without_the_flag_the_demo_data_is_loaded() -> None:
    services = fake_services()
    services.flags.set("something_else")
    assert load_demo(services) is True
