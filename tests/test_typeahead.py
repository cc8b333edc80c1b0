"""The typeahead store in process (chat/typeahead.py): which keys typed ahead end chat (a Ctrl-D the next
prompt would meet on an empty line before any Enter), and bytes read in any pieces parse as one read."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gptme_trio.chat.typeahead import Typeahead

ESC_ENTER, PASTE = "\x1b\r", "\x1b[200~{}\x1b[201~"


def held(*pieces: str) -> Typeahead:
    """A store holding `pieces`, each read from a pipe as the terminal would hand them over."""
    typeahead = Typeahead()
    read, write = os.pipe()
    try:
        for piece in pieces:
            os.write(write, piece.encode())
            assert typeahead.read_pending(read)
    finally:
        os.close(read)
        os.close(write)
    return typeahead


@pytest.mark.parametrize(
    ("typed", "ends"),
    [
        ("\x04", True),  # Ctrl-D at an empty prompt
        ("ab\x7f\x7f\x04", True),  # typed, then erased: empty again
        ("abc\x15\x04", True),  # Ctrl-U erased the line
        ("ab\x04", False),  # on text: deletes, does not end
        ("ab\x7f\x04", False),
        ("one\r\x04", False),  # behind a line: the line is sent first, its turn runs
        ("\r\x04", False),  # an empty Enter is still an Enter (a new prompt, after)
        ("a\n\x7f\x7f\x04", True),  # Ctrl-J then two Backspaces: empty
        ("a\x0a\x04", False),  # a new line (Ctrl-J) is text
        (f"{ESC_ENTER}\x04", False),  # Esc-Enter: a new line, not a send
        ("\x1bb\x04", True),  # Alt-b moves, types nothing
        ("\x1b[A\x04", True),  # an arrow key types nothing (up-arrow's history entry is not followed)
        (PASTE.format("x\ny") + "\x04", False),  # a paste is text
        (PASTE.format("") + "\x04", True),
        ("é\x04", False),  # a character in two bytes
    ],
)
def test_which_typeahead_ends_chat(typed, ends):
    assert held(typed).eof_first() is ends


def test_the_verdict_is_followed_as_keys_arrive():
    typeahead = held("ab")
    assert not typeahead.eof_first()
    typeahead = held("ab", "\x7f\x7f")
    assert not typeahead.eof_first()
    typeahead = held("ab", "\x7f\x7f", "\x04")
    assert typeahead.eof_first()


def test_take_empties_the_store_and_a_lone_escape_is_a_key():
    typeahead = held("hi\x1b")
    keys = typeahead.take()
    assert [k.data for k in keys] == ["h", "i", "\x1b"]
    assert typeahead.take() == []
    assert not typeahead.eof_first()


typed_keys = st.lists(
    st.sampled_from(
        ["a", "é", "\U0001f600", "\r", "\n", "\x7f", "\x04", "\x15", "\x1b[A", ESC_ENTER, PASTE.format("p\nq")]
    ),
    max_size=30,
)


@given(typed_keys, st.lists(st.integers(min_value=1, max_value=7), max_size=10))
def test_pieces_read_in_any_split_parse_as_one_read(keys, cuts):
    data = "".join(keys).encode()
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start : start + cut])
        start += cut
    pieces.append(data[start:])
    whole, split = Typeahead(), Typeahead()
    read, write = os.pipe()
    try:
        os.write(write, data)
        whole.read_pending(read)
        for piece in pieces:
            os.write(write, piece)
            split.read_pending(read)
    finally:
        os.close(read)
        os.close(write)
    assert whole.eof_first() == split.eof_first()
    assert [(k.key, k.data) for k in whole.take()] == [(k.key, k.data) for k in split.take()]


def test_a_closed_terminal_is_the_end_of_input():
    typeahead = Typeahead()
    read, write = os.pipe()
    os.close(write)
    try:
        assert not typeahead.read_pending(read)
    finally:
        os.close(read)
