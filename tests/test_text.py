"""One way to compare texts: links and spacing never make two texts different; case only for the key."""

from monitor.text import LINK_PATTERN, dedup_key, strip_links


def test_strip_links_removes_links_collapses_spacing_and_keeps_case():
    text = "  Apple beats  https://t.co/QPN8Gwl7Uh\tsee www.example.com/x?y=1 NOW\n"
    assert strip_links(text) == "Apple beats see NOW"
    assert strip_links("no links here") == "no links here"
    assert strip_links("http://only.a/link") == ""


def test_dedup_key_is_strip_links_casefolded():
    assert dedup_key("Fed  HIKES http://a.b/1") == dedup_key("fed hikes https://c.d/2") == "fed hikes"
    assert dedup_key("Straße") == dedup_key("STRASSE")


def test_link_pattern_stops_at_whitespace():
    assert LINK_PATTERN.findall("a http://x.y/z b www.q.r c") == ["http://x.y/z", "www.q.r"]
