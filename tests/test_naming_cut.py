"""Long names are cut at whole characters, and bytes no UTF-8 survive the cut."""

from __future__ import annotations

import os

from annotator.core.naming import fit_stem, short_stem


def test_a_cut_keeps_whole_characters_and_undecodable_bytes():
    raw = os.fsdecode(b"caf\xff\xfe-") + "é" * 10  # two bytes a Latin-1 name leaves
    cut = fit_stem(raw, ".png", 12)
    assert cut == os.fsdecode(b"caf\xff\xfe-") + "é.png"  # 6 + 2 + 4 bytes
    # a two-byte character that does not fit whole is left out, not cut in half
    assert fit_stem("ab" + "é", "", 3) == "ab"


def test_a_short_stem_of_an_undecodable_name_keeps_its_bytes_and_is_stable():
    raw = os.fsdecode(b"\xff" * 300)
    short = short_stem(raw, 40)
    assert short == short_stem(raw, 40) and len(os.fsencode(short)) <= 40
    assert os.fsencode(short).startswith(b"\xff" * 20)
