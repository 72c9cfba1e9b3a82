"""Tests for scrapers.quotes: quote spans, speakers, cues and bad input."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapers.quotes import ATTRIBUTOR, FoundQuote, find_quotes, find_quotes_with
from scrapers.quotes_ranker import default_ranker

DATA = Path(__file__).parent / "data" / "quotes"
SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "samples"
    / "election-security-blog-post.txt"
)


def by_text(quotes: list[FoundQuote]) -> dict[str, FoundQuote]:
    return {q.text: q for q in quotes}


def assert_offsets(text: str, quotes: list[FoundQuote]) -> None:
    for q in quotes:
        assert text[q.start : q.end] == q.text
        if q.speaker_mention is not None:
            assert text[q.speaker_start : q.speaker_end] == q.speaker_mention
        else:
            assert q.speaker_start is None and q.speaker_end is None
        assert 0.0 <= q.confidence <= 1.0


def test_attributor_is_versioned() -> None:
    # the release names the model too: a retrained model makes re-extraction run again
    assert ATTRIBUTOR.startswith("onrecord-quotes/")
    assert ATTRIBUTOR.endswith("/" + default_ranker().version)


def test_quote_split_around_cue_with_curly_marks() -> None:
    text = "“We will not stop,” she said, “until every vote is counted.”"
    quotes = find_quotes(text)
    assert [q.text for q in quotes] == ["We will not stop,", "until every vote is counted."]
    assert all(q.speaker_mention == "she" and q.cue == "said" for q in quotes)
    assert_offsets(text, quotes)


def test_straight_marks_and_named_speaker_with_role() -> None:
    text = (
        "Ada Brill, the director of the Lakeside Water Board, said the pipes were old. "
        '"They were laid before the war," Brill said.'
    )
    (quote,) = find_quotes(text)
    assert quote.text == "They were laid before the war,"
    assert quote.speaker_mention == "Brill"
    assert quote.speaker == "Ada Brill"
    assert quote.role == "the director of the Lakeside Water Board"
    assert not quote.anonymous
    assert_offsets(text, [quote])


def test_pronoun_resolves_to_the_person_and_reports_the_pronoun() -> None:
    text = (
        "Senator Ilse Marrow spent the week in the valley towns.\n\n"
        "“The roads here are a disgrace,” she wrote on Tuesday."
    )
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "she"
    assert quote.speaker == "Ilse Marrow"
    assert quote.cue == "wrote"


def test_inverted_cue_with_appositive_role() -> None:
    text = '"The figures are wrong," said Jane Doe, a spokeswoman for the Treasury.'
    (quote,) = find_quotes(text)
    assert quote.speaker == "Jane Doe"
    assert quote.role == "a spokeswoman for the Treasury"


def test_a_stray_straight_mark_inside_curly_marks_does_not_swallow_the_close() -> None:
    text = 'The notice went out.\n\n“Nobody should click "><b> in any message,” Ines Varga said.'
    (quote,) = find_quotes(text)
    assert quote.text == 'Nobody should click "><b> in any message,'
    assert not quote.unclosed
    assert quote.speaker == "Ines Varga"


def test_told_outlet_is_cue_and_via() -> None:
    text = "Omar Said told POLITICO that the plan was “dead on arrival.”"
    (quote,) = find_quotes(text)
    assert quote.speaker == "Omar Said"
    assert quote.cue == "told"  # the outlet is never inside the cue
    assert quote.via == "POLITICO"


def test_anonymous_speakers_keep_their_description() -> None:
    text = (
        "“The decision was made weeks ago,” said one person who spoke on the condition of "
        "anonymity because they were not allowed to discuss it.\n\n"
        "“Nobody asked the staff,” a former senior trade official said.\n\n"
        "“It was a mess,” officials said."
    )
    quotes = find_quotes(text)
    assert [q.anonymous for q in quotes] == [True, True, True]
    assert quotes[0].speaker == "one person who spoke on the condition of anonymity"
    assert quotes[1].speaker == "a former senior trade official"
    assert quotes[2].speaker == "officials"
    assert all(q.speaker and q.speaker[0].islower() for q in quotes)  # never a name


def test_definite_description_resolves_to_the_one_introduced() -> None:
    text = (
        "A current city official described the talks.\n\n"
        "“We are close,” said the official, who requested anonymity."
    )
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "the official"
    assert quote.speaker == "A current city official"
    assert quote.anonymous


def test_documents_and_organisations_as_speakers() -> None:
    text = (
        "“Service will resume on Monday,” the statement said.\n\n"
        "The agency said in a release that the delay was “regrettable but necessary.”"
    )
    statement, release = find_quotes(text)
    assert statement.speaker == "the statement" and not statement.anonymous
    assert release.speaker_mention == "The agency"
    assert release.text == "regrettable but necessary."


def test_continuation_quote_takes_previous_sentence_speaker() -> None:
    text = (
        "“We will appeal,” Rosa Lind said. “The ruling ignores the evidence.”\n\n"
        "Lind, a lawyer for the tenants, argued the case for six years. "
        "“This is not over.”"
    )
    first, second, third = find_quotes(text)
    assert first.speaker_mention == second.speaker_mention == "Rosa Lind"
    assert second.speaker_start == first.speaker_start  # the same mention, as gold has it
    assert third.speaker == "Rosa Lind"


def test_cue_later_in_the_sentence_after_the_writers_words() -> None:
    text = (
        "Ivo Brandt has been “held without any charge” by the ministry since March, "
        "and should be released at once, the rights group says."
    )
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "the rights group"
    assert_offsets(text, [quote])


def test_subject_set_off_by_commas() -> None:
    text = (
        "Rain fell on the capital all week.\n\n"
        "Olmo Bertz, for his part, is branding the budget “a betrayal of every promise we made.”"
    )
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "Olmo Bertz"


def test_opening_clause_is_no_speaker() -> None:
    text = (
        "Reprising one of her favourite lines, the former governor talked about "
        "“the work we still have to finish together.”"
    )
    # who said it, whether or not the keep model is sure enough to report it
    every_quote = replace(default_ranker(), keep_threshold=0.0)
    (quote,) = find_quotes_with(text, None, every_quote)
    assert quote.speaker_mention == "the former governor"


def test_speaker_of_a_cue_is_credited_over_the_pronoun_inside() -> None:
    text = (
        "Tomas Reyna told the crowd the fight was not over, and he vowed to "
        "“fight this ruling in every court we can reach.”"
    )
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "Tomas Reyna"


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("“Come to Louisiana and see it,” the editorial read.", "the editorial"),
        ("“We are not done with this,” Lena Ortiz shot back.", "Lena Ortiz"),
        ("“I was wrong about the numbers,” Ortiz admitted.", "Ortiz"),
    ],
)
def test_less_common_cues(text: str, mention: str) -> None:
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == mention


def test_outlet_the_quote_was_taken_from_is_the_source() -> None:
    text = "“We will keep going,” Ana Ruiz said, according to the Daily Ledger."
    (quote,) = find_quotes(text)
    assert quote.speaker_mention == "the Daily Ledger"


def test_not_quotes_are_dropped() -> None:
    text = (
        "The council approved the so-called “rigged” budget after a debate about "
        "“Operation Clean Sweep” and a book called “The Long Road Home.” Locals call the "
        "mayor “Big Tom.” Residents remain “cautious.”"
    )
    assert find_quotes(text) == []


def test_a_programme_named_before_the_speaker_is_no_quote() -> None:
    # A title with a comma next to its speaker reads like '"Never," he said', but one that
    # follows a word ('on KVLT's', 'told') names the programme spoken on or to.
    text = (
        "In an interview on KVLT’s “Harbour Hour,” Mayor Ines Dahl said the ferries would "
        "run. Dahl told “Morning Tide,” a radio show, that repairs were due. "
        "“Never,” Dahl said of closing the port."
    )
    assert [q.text for q in find_quotes(text)] == ["Never,"]


def test_partial_quote_inside_sentence() -> None:
    text = "Ruiz called the proposal “a gift to landlords” and voted against it."
    (quote,) = find_quotes(text)
    assert quote.text == "a gift to landlords"
    assert quote.speaker == "Ruiz"


def test_fixture_article() -> None:
    text = (DATA / "harbour-report.txt").read_text(encoding="utf-8")
    quotes = find_quotes(text)
    assert_offsets(text, quotes)
    speakers = [(q.text.split()[0], q.speaker, q.anonymous) for q in quotes]
    assert speakers == [
        ("We", "Marta Quennell", False),
        ("Nobody", "Marta Quennell", False),
        ("It", "Marta Quennell", False),
        ("The", "one skipper who asked not to be named", True),
        ("regrets", "The authority", False),
        ("We", "Tobias Renn", False),
        ("We", "Tobias Renn", False),
        ("And", "Tobias Renn", False),
    ]
    third = quotes[2]
    assert (third.speaker_mention, third.cue) == ("she", "added")
    # A quote running over two paragraphs: reopened, so not unclosed.
    assert not any(q.unclosed for q in quotes)
    assert "Operation Deep Water" not in " ".join(q.text for q in quotes)
    assert "watch list" not in " ".join(q.text for q in quotes)


def test_unclosed_quotes_stop_at_the_paragraph() -> None:
    text = (DATA / "unbalanced.txt").read_text(encoding="utf-8")
    quotes = find_quotes(text)
    assert_offsets(text, quotes)
    assert [q.unclosed for q in quotes] == [True, True]
    assert all("\n" not in q.text for q in quotes)
    assert quotes[0].speaker == "The chair"
    assert quotes[1].speaker == "The clerk"
    assert "deferred" not in " ".join(q.text for q in quotes)


def test_quote_left_open_to_the_end_of_a_long_document() -> None:
    body = "The mayor said: “We will build it. " + "More words follow here. " * 5000
    quotes = find_quotes(body + "\n\nAnother paragraph without marks.")
    (quote,) = quotes
    assert quote.unclosed and quote.end <= len(body)
    assert quote.end - quote.start < len(body) / 2


@pytest.mark.parametrize(
    "text",
    [
        "",
        "No quotation marks at all.",
        '"',
        '""',
        "“”",
        '" " " "',
        "He said “ and then ” nothing.",
        "“Mixed styles,\" she said, 'single' and «guillemets» too.",
        "„Wir schaffen das“, sagte Merkel.",
        "Il a dit « non » hier.",
        "他说：“我们会赢。”",
        "\n\n\n“\n”\n",
    ],
)
def test_bad_input_never_raises(text: str) -> None:
    assert_offsets(text, find_quotes(text))


def test_quotes_are_in_text_order() -> None:
    text = "“One,” he said.\n\n“Two,” she said.\n\n“Three,” they said."
    starts = [q.start for q in find_quotes(text)]
    assert starts == sorted(starts) and len(starts) == 3


_QUOTE_CHARS = st.sampled_from(['"', "“", "”", "„", "«", "»", "'", "’", "\n", "\n\n", " "])
_PIECES = st.one_of(
    _QUOTE_CHARS,
    st.sampled_from(["he said", "said Jane Doe,", "The statement said", "officials"]),
    st.text(max_size=12),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_never_raises_and_offsets_stay_inside(text: str) -> None:
    quotes = find_quotes(text)
    for q in quotes:
        assert 0 <= q.start < q.end <= len(text)
        if q.speaker_start is not None:
            assert 0 <= q.speaker_start < q.speaker_end <= len(text)
    assert_offsets(text, quotes)


# The sample: every direct quote, identified by its start offset, with its speaker. Named
# speakers are given by name; anonymous ones by a word of their description.
_SAMPLE_NAMED = {
    764: "Cybersecurity and Infrastructure Security Agency",  # "the statement": its issuer
    1021: "Cybersecurity and Infrastructure Security Agency",  # "the statement": its issuer
    1553: "Chris Krebs",
    1992: "Cybersecurity and Infrastructure Security Agency",  # "the statement": its issuer
    4141: "Valerie Boyd",
    4237: "Valerie Boyd",
    4453: "Valerie Boyd",
    7371: "Michael Daniel",
    7589: "Michael Daniel",
    7849: "Alex Stamos",
    8567: "Chris Krebs",
    8582: "Chris Krebs",
    10008: "Chris Painter",
    10129: "Chris Painter",
    10221: "Chris Painter",
    11986: "Chris Krebs",
    12063: "Chris Krebs",
}
_SAMPLE_ANONYMOUS = {
    3659: "person",
    8161: "senior",
    8695: "specialist",
    8877: "executive",
    9136: "current",
    9254: "current",
    9420: "transition",
    9617: "transition",
    10865: "current",
    10950: "current",
}
_SAMPLE_AUTHORS = {1928: "authors"}  # "They said": the statement's authors
_SAMPLE_NOT_QUOTES = (8342,)  # the name of a conspiracy theory


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared sample not present")
def test_election_security_sample() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    quotes = {q.start: q for q in find_quotes(text)}
    expected = _SAMPLE_NAMED.keys() | _SAMPLE_ANONYMOUS.keys() | _SAMPLE_AUTHORS.keys()
    assert set(quotes) == expected
    for start, name in _SAMPLE_NAMED.items():
        assert (quotes[start].speaker, quotes[start].anonymous) == (name, False), start
    for start, word in _SAMPLE_ANONYMOUS.items():
        assert quotes[start].anonymous and word in quotes[start].speaker, start
    for start, word in _SAMPLE_AUTHORS.items():
        assert word in quotes[start].speaker and quotes[start].speaker_mention == "They"
    assert quotes[1553].speaker_mention == "he"
    assert quotes[8877].via == quotes[10008].via == "POLITICO"
    for start in _SAMPLE_NOT_QUOTES:
        assert not any(q.start <= start < q.end for q in quotes.values())
    assert_offsets(text, list(quotes.values()))


def test_a_role_given_once_holds_for_the_speakers_later_quotes():
    text = (
        "“The count will finish tonight,” said Mara Ilves, chief clerk of the Tessel County "
        "board.\n\nLater she told the Valley Courier: “We will publish every tally.”"
    )
    first, second = find_quotes(text)
    assert first.role == second.role == "chief clerk of the Tessel County board"
    assert second.via == "the Valley Courier"


def test_decomposed_accents_keep_the_name_whole_and_the_offsets_in_the_text_given():
    composed = "“The café reopens on Monday,” said Renée Müller, the mayor of Saint-Étienne."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    [found] = find_quotes(decomposed)
    [expected] = find_quotes(composed)
    assert found.speaker == expected.speaker == "Renée Müller"
    assert found.text == decomposed[found.start : found.end]
    assert unicodedata.normalize("NFC", found.text) == expected.text
    mention = decomposed[found.speaker_start : found.speaker_end]
    assert found.speaker_mention == mention
    assert unicodedata.normalize("NFC", mention) == "Renée Müller"
    assert decomposed[found.cue_start : found.cue_end] == "said"


def test_a_hyphenated_word_ending_in_a_cue_verb_is_no_cue() -> None:
    # 'so-called' names what follows; it is no 'called' with 'The so-' as its speaker
    text = "The so-called “quiet period” ended Monday, and the “fresh start” plan followed."
    assert all(q.speaker != "The so-" for q in find_quotes(text))
    text = "Lawmakers discussed the so-called “river compact” on Friday, the clerk wrote."
    assert all(q.cue != "called" for q in find_quotes(text))


def test_a_quote_ending_its_sentence_takes_no_speaker_from_the_next() -> None:
    # 'X said, "...."': the full stop inside the marks ends the sentence, and the cue of the
    # sentence after it belongs to that sentence's own quote, or to nothing quoted.
    text = (
        "Engineer Mara Quist said, “The bridge is sound.” "
        "Inspector Tomas Varga said, “We found no cracks.”"
    )
    first, second = find_quotes(text)
    assert (first.speaker, second.speaker) == ("Mara Quist", "Tomas Varga")
    (quote,) = find_quotes("Okafor said, “The budget is balanced.” Critics objected.")
    assert quote.speaker == "Okafor"


def test_a_quote_after_its_cue_without_a_full_stop_still_reads_on() -> None:
    # no full stop inside the marks: the words after the quote are still its sentence's
    text = "Mayor Ines Dahl called the plan “a good start,” said her spokesman, Leo Brandt."
    (quote,) = find_quotes(text)
    assert quote.text == "a good start,"


@pytest.mark.parametrize(
    ("told", "via"),
    [
        ("told ABC’s “Sunday Roundtable.”", "ABC’s “Sunday Roundtable”"),
        ("told Fox News’ Dana Reyes.", "Fox News"),
        ("told KXLM-TV.", "KXLM-TV"),
        ("told Reuters Television.", "Reuters Television"),
        ("told the Dayton Herald-Courier.", "the Dayton Herald-Courier"),
        ("told Pat Ochoa.", None),  # a person: not an outlet, and not part of the cue
    ],
)
def test_whom_a_speaker_told_is_never_part_of_the_cue(told: str, via: str | None) -> None:
    (quote,) = find_quotes(f"“The plant will stay open,” Mayor Ivo Brandt {told}")
    assert (quote.speaker, quote.cue, quote.via) == ("Ivo Brandt", "told", via)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_a_quote_over_paragraphs_keeps_its_speaker_whatever_the_line_endings(
    newline: str,
) -> None:
    text = newline.join(
        [
            "“The orchard lost half its trees to the frost.",
            "",
            "“We replanted the rest by hand,” said grower Helga Marsh.",
            "",
            "The cooperative meets in March.",
        ]
    )
    quotes = find_quotes(text)
    assert_offsets(text, quotes)
    assert [q.text for q in quotes] == [
        "The orchard lost half its trees to the frost.",
        "We replanted the rest by hand,",
    ]
    assert [q.speaker for q in quotes] == ["Helga Marsh", "Helga Marsh"]


@pytest.mark.parametrize("space", ["\t", "\u00a0", "  "])
def test_a_speaker_is_spaced_as_one_name_while_the_mention_keeps_the_text(space: str) -> None:
    text = (
        f"“The ferry runs again,” said harbour master Ines{space}Calloway. "
        "“We checked every hull,” Calloway added."
    )
    first, second = find_quotes(text)
    assert first.speaker == second.speaker == "Ines Calloway"
    assert first.speaker_mention == f"Ines{space}Calloway"
    assert text[first.speaker_start : first.speaker_end] == first.speaker_mention


@pytest.mark.parametrize(
    ("signature", "speaker", "role"),
    [
        ("— Commissioner of Fisheries Odile Brandt", "Odile Brandt", "Commissioner of Fisheries"),
        (
            "— Minister for Housing and Planning Ruben Sato",
            "Ruben Sato",
            "Minister for Housing and Planning",
        ),
    ],
)
def test_a_signature_whose_office_has_small_words(signature: str, speaker: str, role: str) -> None:
    (quote,) = find_quotes(f"“No family should wait a year for a roof.” {signature}")
    assert (quote.speaker, quote.role) == (speaker, role)


@pytest.mark.parametrize(
    "text",
    [
        'The notice went up Monday. "The pool stays shut all summer,"Dora Kesk said.',
        '"The pool stays shut," said Dora Kesk, who manages it."It stays shut all summer."',
    ],
)
def test_a_space_left_out_beside_a_straight_mark(text: str) -> None:
    # a closing mark glued to the next word, or an opening one glued to the sentence before,
    # is still a mark: the quotes are found whole and none runs on past its end
    quotes = find_quotes_with(text, None, None)
    assert [q.text for q in quotes][-1] in {
        "The pool stays shut all summer,",
        "It stays shut all summer.",
    }
    assert all('"' not in q.text for q in quotes)
    assert all(q.speaker == "Dora Kesk" for q in quotes)
