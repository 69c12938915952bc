"""Pages: an initiative's documents, a tree under one root page (seed: ``pages``,
``PageRepository`` + findRootPage, getOrCreateRootPage, findByParentPageId)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    ConflictError,
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.schema import pages as pages_table
from tests.factories import doc, make_initiative, make_page


def page_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(pages_table)).scalar_one()
        )


RICH_DOCUMENT: dict[str, Any] = {
    "type": "doc",
    "content": [
        {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Auth"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Use "},
                {"type": "text", "text": "OAuth", "marks": [{"type": "bold"}]},
                {"type": "text", "text": " — see "},
                {
                    "type": "text",
                    "text": "the RFC",
                    "marks": [
                        {
                            "type": "link",
                            "attrs": {"href": "https://rfc.example/6749", "target": None},
                        },
                        {"type": "italic"},
                    ],
                },
                {"type": "hardBreak"},
                {"type": "text", "text": "ünïcødé ✓ 日本語"},
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "one"}]},
                        {
                            "type": "orderedList",
                            "attrs": {"start": 3},
                            "content": [
                                {
                                    "type": "listItem",
                                    "content": [
                                        {
                                            "type": "paragraph",
                                            "content": [
                                                {
                                                    "type": "text",
                                                    "text": "nested",
                                                    "marks": [{"type": "code"}],
                                                }
                                            ],
                                        }
                                    ],
                                }
                            ],
                        },
                    ],
                }
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [{"type": "text", "text": "x = 1\n"}],
        },
        {"type": "paragraph"},
    ],
}


# --- standard CRUD ------------------------------------------------------------------------


def test_a_page_is_created_under_its_root_and_found_by_id(db: Database) -> None:
    initiative = make_initiative(db)
    root = db.pages.get_or_create_root_page(initiative.id)

    page = db.pages.create(
        initiative_id=initiative.id, parent_page_id=root.id, title="Design", sort_order=2
    )

    assert len(page.id) == 21
    assert page.initiative_id == initiative.id
    assert page.parent_page_id == root.id
    assert page.title == "Design"
    assert page.content is None
    assert page.sort_order == 2
    assert isinstance(page.created_at, datetime) and page.created_at.tzinfo is not None
    assert page.updated_at == page.created_at
    assert db.pages.find_by_id(page.id) == page


def test_sort_order_defaults_to_zero(db: Database) -> None:
    assert make_page(db).sort_order == 0


def test_find_by_id_of_an_unknown_page_is_none(db: Database) -> None:
    assert db.pages.find_by_id("no-such-page") is None


def test_find_all_lists_every_page(db: Database) -> None:
    first = make_page(db)
    second = make_page(db)

    ids = {page.id for page in db.pages.find_all()}

    assert {first.id, second.id, first.parent_page_id, second.parent_page_id} == ids


def test_update_changes_the_fields_and_stamps_updated_at(db: Database) -> None:
    page = make_page(db)

    updated = db.pages.update(page.id, title="Renamed", sort_order=5, content=doc("hello"))

    assert updated.title == "Renamed"
    assert updated.sort_order == 5
    assert updated.content == doc("hello")
    assert updated.created_at == page.created_at
    assert updated.updated_at > page.updated_at
    assert db.pages.find_by_id(page.id) == updated


def test_update_of_an_unknown_page_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.pages.update("no-such-page", title="x")


def test_a_page_cannot_move_to_another_initiative(db: Database) -> None:
    page = make_page(db)
    other = make_initiative(db)

    with pytest.raises(ValidationError):
        db.pages.update(page.id, initiative_id=other.id)

    assert db.pages.find_by_id(page.id) == page


def test_a_page_needs_a_title(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ValidationError):
        db.pages.create(initiative_id=initiative.id)
    with pytest.raises(ValidationError):
        db.pages.create(initiative_id=initiative.id, title="   ")

    assert page_count(db) == 0


def test_a_page_of_an_unknown_initiative_is_refused(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError):
        db.pages.create(initiative_id="no-such-initiative", title="Orphan")

    assert page_count(db) == 0


def test_a_page_under_an_unknown_parent_is_refused(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ReferenceNotFoundError):
        db.pages.create(initiative_id=initiative.id, parent_page_id="no-such-page", title="x")

    assert page_count(db) == 0


def test_delete_removes_the_page(db: Database) -> None:
    page = make_page(db)

    db.pages.delete(page.id)

    assert db.pages.find_by_id(page.id) is None


def test_delete_of_an_unknown_page_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.pages.delete("no-such-page")


def test_find_by_initiative_id_returns_only_that_initiatives_pages(db: Database) -> None:
    initiative = make_initiative(db)
    mine = make_page(db, initiative)
    make_page(db)

    ids = {page.id for page in db.pages.find_by_initiative_id(initiative.id)}

    assert ids == {mine.id, mine.parent_page_id}


# --- Tiptap content -----------------------------------------------------------------------


def test_tiptap_content_round_trips_exactly(db: Database) -> None:
    page = make_page(db, content=RICH_DOCUMENT)

    assert page.content == RICH_DOCUMENT
    found = db.pages.find_by_id(page.id)
    assert found is not None
    assert found.content == RICH_DOCUMENT


def test_tiptap_content_is_stored_as_json_text(db: Database) -> None:
    page = make_page(db, content=doc("stored"))

    with db.engine.connect() as connection:
        raw = connection.execute(
            sa.text("SELECT content FROM pages WHERE id = :id"), {"id": page.id}
        ).scalar_one()

    assert isinstance(raw, str)
    assert '"stored"' in raw


def test_content_can_be_cleared(db: Database) -> None:
    page = make_page(db, content=doc("x"))

    assert db.pages.update(page.id, content=None).content is None


MALFORMED_DOCUMENTS = {
    "not a dict": '{"type": "doc"}',
    "a list": [{"type": "doc"}],
    "type not doc": {"type": "paragraph", "content": []},
    "no type": {"content": []},
    "node without type": {"type": "doc", "content": [{"content": []}]},
    "node with empty type": {"type": "doc", "content": [{"type": ""}]},
    "text node without text": {
        "type": "doc",
        "content": [{"type": "paragraph", "content": [{"type": "text"}]}],
    },
    "text on a non-text node": {"type": "doc", "content": [{"type": "paragraph", "text": "x"}]},
    "unknown key on the doc": {"type": "doc", "content": [], "version": 2},
    "unknown key on a node": {"type": "doc", "content": [{"type": "paragraph", "style": "x"}]},
    "unknown key on a mark": {
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "x", "marks": [{"type": "bold", "x": 1}]}],
            }
        ],
    },
    "mark without type": {
        "type": "doc",
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{}]}]}
        ],
    },
    "content not a list": {"type": "doc", "content": {"type": "paragraph"}},
    "attrs not an object": {"type": "doc", "content": [{"type": "heading", "attrs": [1]}]},
    "marks not a list": {
        "type": "doc",
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": "bold"}]}
        ],
    },
}


@pytest.mark.parametrize("content", MALFORMED_DOCUMENTS.values(), ids=MALFORMED_DOCUMENTS.keys())
def test_a_malformed_document_is_refused_on_create(db: Database, content: Any) -> None:
    initiative = make_initiative(db)
    root = db.pages.get_or_create_root_page(initiative.id)

    with pytest.raises(ValidationError):
        db.pages.create(
            initiative_id=initiative.id, parent_page_id=root.id, title="x", content=content
        )

    assert db.pages.find_by_parent_page_id(root.id) == []


@pytest.mark.parametrize("content", MALFORMED_DOCUMENTS.values(), ids=MALFORMED_DOCUMENTS.keys())
def test_a_malformed_document_is_refused_on_update(db: Database, content: Any) -> None:
    page = make_page(db, content=doc("kept"))

    with pytest.raises(ValidationError):
        db.pages.update(page.id, content=content)

    assert db.pages.find_by_id(page.id) == page


# --- the root page ------------------------------------------------------------------------


def test_find_root_page_is_none_before_one_exists(db: Database) -> None:
    initiative = make_initiative(db)

    assert db.pages.find_root_page(initiative.id) is None


def test_get_or_create_root_page_creates_it_titled_after_the_initiative(db: Database) -> None:
    initiative = make_initiative(db, name="User auth")

    root = db.pages.get_or_create_root_page(initiative.id)

    assert root.initiative_id == initiative.id
    assert root.parent_page_id is None
    assert root.title == "User auth"
    assert db.pages.find_root_page(initiative.id) == root


def test_get_or_create_root_page_returns_the_same_page_afterwards(db: Database) -> None:
    initiative = make_initiative(db)

    first = db.pages.get_or_create_root_page(initiative.id)
    second = db.pages.get_or_create_root_page(initiative.id)

    assert second == first
    assert page_count(db) == 1


def test_get_or_create_root_page_returns_a_root_made_by_create(db: Database) -> None:
    initiative = make_initiative(db)
    root = db.pages.create(initiative_id=initiative.id, title="Home")

    assert db.pages.get_or_create_root_page(initiative.id) == root
    assert page_count(db) == 1


def test_each_initiative_gets_its_own_root_page(db: Database) -> None:
    one = db.pages.get_or_create_root_page(make_initiative(db).id)
    two = db.pages.get_or_create_root_page(make_initiative(db).id)

    assert one.id != two.id


def test_get_or_create_root_page_of_an_unknown_initiative_raises(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError):
        db.pages.get_or_create_root_page("no-such-initiative")

    assert page_count(db) == 0


def test_a_second_root_page_is_a_conflict(db: Database) -> None:
    initiative = make_initiative(db)
    root = db.pages.get_or_create_root_page(initiative.id)

    with pytest.raises(ConflictError):
        db.pages.create(initiative_id=initiative.id, title="Another root")

    assert db.pages.find_by_initiative_id(initiative.id) == [root]


def test_find_root_page_ignores_child_pages(db: Database) -> None:
    initiative = make_initiative(db)
    child = make_page(db, initiative)

    root = db.pages.find_root_page(initiative.id)

    assert root is not None
    assert root.id == child.parent_page_id


# --- the tree -----------------------------------------------------------------------------


def test_find_by_parent_page_id_lists_children_by_sort_order(db: Database) -> None:
    initiative = make_initiative(db)
    third = make_page(db, initiative, title="c", sort_order=3)
    first = make_page(db, initiative, title="a", sort_order=1)
    second = make_page(db, initiative, title="b", sort_order=2)
    make_page(db, initiative, parent_page_id=first.id, title="grandchild")

    root = db.pages.get_or_create_root_page(initiative.id)
    children = db.pages.find_by_parent_page_id(root.id)

    assert [page.id for page in children] == [first.id, second.id, third.id]


def test_children_with_the_same_sort_order_keep_creation_order(db: Database) -> None:
    initiative = make_initiative(db)
    made = [make_page(db, initiative, sort_order=0) for _ in range(5)]

    root = db.pages.get_or_create_root_page(initiative.id)
    children = db.pages.find_by_parent_page_id(root.id)

    assert [page.id for page in children] == [page.id for page in made]


def test_find_by_parent_page_id_of_a_leaf_is_empty(db: Database) -> None:
    assert db.pages.find_by_parent_page_id(make_page(db).id) == []


def test_a_parent_in_another_initiative_is_refused_on_create(db: Database) -> None:
    foreign = make_page(db)
    initiative = make_initiative(db)
    db.pages.get_or_create_root_page(initiative.id)

    with pytest.raises(ValidationError):
        db.pages.create(initiative_id=initiative.id, parent_page_id=foreign.id, title="x")

    assert db.pages.find_by_parent_page_id(foreign.id) == []


def test_a_parent_in_another_initiative_is_refused_on_update(db: Database) -> None:
    foreign = make_page(db)
    page = make_page(db)

    with pytest.raises(ValidationError):
        db.pages.update(page.id, parent_page_id=foreign.id)

    assert db.pages.find_by_id(page.id) == page


def test_a_page_can_move_under_another_page_of_its_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    page = make_page(db, initiative)
    sibling = make_page(db, initiative)

    moved = db.pages.update(page.id, parent_page_id=sibling.id)

    assert moved.parent_page_id == sibling.id
    assert db.pages.find_by_parent_page_id(sibling.id) == [moved]


def test_a_page_cannot_become_its_own_parent(db: Database) -> None:
    page = make_page(db)

    with pytest.raises(ValidationError):
        db.pages.update(page.id, parent_page_id=page.id)

    assert db.pages.find_by_id(page.id) == page


def test_a_page_cannot_move_under_its_own_descendant(db: Database) -> None:
    initiative = make_initiative(db)
    top = make_page(db, initiative)
    child = make_page(db, initiative, parent_page_id=top.id)
    grandchild = make_page(db, initiative, parent_page_id=child.id)

    with pytest.raises(ValidationError):
        db.pages.update(top.id, parent_page_id=grandchild.id)
    with pytest.raises(ValidationError):
        db.pages.update(top.id, parent_page_id=child.id)

    assert db.pages.find_by_id(top.id) == top


def test_the_root_page_cannot_move_under_its_own_descendant(db: Database) -> None:
    initiative = make_initiative(db)
    child = make_page(db, initiative)
    root = db.pages.get_or_create_root_page(initiative.id)

    with pytest.raises(ValidationError):
        db.pages.update(root.id, parent_page_id=child.id)

    assert db.pages.find_root_page(initiative.id) == root


def test_a_child_page_cannot_become_a_second_root(db: Database) -> None:
    initiative = make_initiative(db)
    page = make_page(db, initiative)

    with pytest.raises((ValidationError, ConflictError)):
        db.pages.update(page.id, parent_page_id=None)

    assert db.pages.find_by_id(page.id) == page


# --- cascades -----------------------------------------------------------------------------


def test_deleting_a_page_deletes_its_subtree(db: Database) -> None:
    initiative = make_initiative(db)
    doomed = make_page(db, initiative)
    child = make_page(db, initiative, parent_page_id=doomed.id)
    grandchild = make_page(db, initiative, parent_page_id=child.id)
    survivor = make_page(db, initiative)

    db.pages.delete(doomed.id)

    for gone in (doomed, child, grandchild):
        assert db.pages.find_by_id(gone.id) is None
    assert db.pages.find_by_id(survivor.id) == survivor
    assert db.pages.find_root_page(initiative.id) is not None


def test_deleting_the_root_page_deletes_every_page_of_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    page = make_page(db, initiative)
    make_page(db, initiative, parent_page_id=page.id)
    other = make_page(db)

    db.pages.delete(db.pages.get_or_create_root_page(initiative.id).id)

    assert db.pages.find_by_initiative_id(initiative.id) == []
    assert db.pages.find_by_id(other.id) == other


def test_deleting_an_initiative_deletes_its_pages(db: Database) -> None:
    initiative = make_initiative(db)
    page = make_page(db, initiative)
    make_page(db, initiative, parent_page_id=page.id)
    other = make_page(db)

    db.initiatives.delete(initiative.id)

    assert db.pages.find_by_initiative_id(initiative.id) == []
    assert page_count(db) == 2  # the other initiative's root and page
    assert db.pages.find_by_id(other.id) == other


def test_the_database_itself_refuses_a_second_root_page(db: Database) -> None:
    initiative = make_initiative(db)
    db.pages.get_or_create_root_page(initiative.id)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.insert(pages_table).values(
                id="x" * 21, initiative_id=initiative.id, title="raw", created_at=0, updated_at=0
            )
        )

    assert page_count(db) == 1


def test_ensure_root_page_says_whether_this_call_created_it(db: Database) -> None:
    initiative = make_initiative(db)
    root, created = db.pages.ensure_root_page(initiative.id)
    again, created_again = db.pages.ensure_root_page(initiative.id)
    assert created is True and created_again is False
    assert again.id == root.id
