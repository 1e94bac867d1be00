"""emit_service: the service emitters' files of one plan, each name inside the service's folder
(the one owner of that rule; the cache checks stored names with it too)."""

from __future__ import annotations

import pytest

from catalog_gen.emit import EmitterConflictError, emit_service, plain_relative
from catalog_gen.plan.service_plan import ServicePlan
from tests.gitops.conftest import Rendered


@pytest.mark.parametrize("name", ["values.yaml", "a/b.json", "a.b/c..d", "..x", ".hidden"])
def test_plain_names_stay_in_the_folder(name: str) -> None:
    assert plain_relative(name)


@pytest.mark.parametrize("name", ["", "/abs", "../x", "a/../b", "a//b", "./x", "a/.", "a/", ".."])
def test_names_that_leave_the_folder_or_name_it_twice_are_not_plain(name: str) -> None:
    assert not plain_relative(name)


def one_plan(rendered: Rendered) -> ServicePlan:
    return rendered.catalog.plans[0]


def test_two_emitters_of_one_name_are_a_programming_error(rendered: Rendered) -> None:
    def first(_plan: ServicePlan) -> dict[str, bytes]:
        return {"x.yaml": b"1"}

    with pytest.raises(EmitterConflictError, match="two emitters write"):
        emit_service(one_plan(rendered), [first, first])


@pytest.mark.parametrize("name", ["../escape.yaml", "/etc/passwd", "a//b"])
def test_an_emitter_writing_outside_its_folder_is_refused(rendered: Rendered, name: str) -> None:
    def escaping(_plan: ServicePlan) -> dict[str, bytes]:
        return {name: b"x"}

    with pytest.raises(EmitterConflictError, match="leaves the output directory"):
        emit_service(one_plan(rendered), [escaping])


def test_the_default_emitters_write_the_three_files(rendered: Rendered) -> None:
    assert sorted(emit_service(one_plan(rendered))) == [
        "app.json",
        "catalog-info.yaml",
        "values.yaml",
    ]
