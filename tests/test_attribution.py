"""Attribution relations: every source, cue and content of a sentence, on sentences written here.

Each form the PolNeAR error analysis listed (issue 16) has a case: objects are
never sources, speakers are whole noun phrases, beliefs and intentions count,
pronouns resolve to the person who last spoke, and a sentence can hold two
attributions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import nlp
from pipelines.parse import parse_article
from pipelines.records import Message, from_avro, to_avro

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "fixtures" / "attribution" / "polnear_sample"


def article_of(body: str, spacy_nlp):
    article = parse_article(Message(payload=f"Campaign Notes\n\n{body}".encode()))
    return nlp.annotate(article, spacy_nlp(article.text), "test")


def claim_for(enriched, fragment: str):
    matches = [c for c in enriched.claims if fragment in c.text]
    assert matches, f"no claim contains {fragment!r}: {[c.text for c in enriched.claims]}"
    return matches[0]


def speakers_on(body: str, fragment: str, spacy_nlp) -> list:
    """The speakers of every attribution of the claim holding ``fragment``."""
    return [a.speaker for a in claim_for(article_of(body, spacy_nlp), fragment).attributions]


@pytest.mark.parametrize(
    ("body", "fragment", "speaker", "cue_kind"),
    [
        # The object of the cue is never its source.
        (
            "In a letter to Obama, Warren called SEC Chair Mary Jo White a disappointment.",
            "letter",
            "Warren",
            "REPORTING",
        ),
        # "X issued a statement saying ...": the name behind the role speaks.
        (
            "Clinton's spokesman Brian Fallon issued a statement saying the report was false.",
            "statement",
            "Brian Fallon",
            "REPORTING",
        ),
        ('"That is wrong," responded Abedin.', "wrong", "Abedin", "REPORTING"),
        ("The economy is weak, analysts say.", "economy", "analysts", "REPORTING"),
        # Beliefs and intentions.
        ("Democrats fear that Trump will win Ohio.", "fear", "Democrats", "STANCE"),
        ("Obama planned to veto the bill in 2015.", "veto", "Obama", "STANCE"),
        # Whole noun phrases, never a relative-clause fragment.
        (
            "The American people who are tired of this said they want change.",
            "tired",
            "The American people",
            "REPORTING",
        ),
        ("A woman who attended the rally told reporters she was scared.", "rally", "A woman", "REPORTING"),
        # Transcripts and round-ups.
        ("MS. CLINTON: We will win the election in November.", "win the election", "MS. CLINTON", "COLON"),
        ('Gerald F. Seib, The Wall Street Journal: "The race is close."', "race", "Gerald F. Seib", "COLON"),
        (
            "The bridge will reopen in May, according to the city council.",
            "bridge",
            "the city council",
            "ACCORDING_TO",
        ),
    ],
)
def test_cue_forms_give_the_whole_source(body, fragment, speaker, cue_kind, spacy_nlp):
    claim = claim_for(article_of(body, spacy_nlp), fragment)
    assert claim.speaker == speaker
    assert claim.attributions[0].speaker == speaker and claim.attributions[0].cue_kind == cue_kind


@pytest.mark.parametrize(
    ("body", "fragment", "speaker", "cue", "cue_kind"),
    [
        # A refusal is an attribution (PolNeAR annotates it): the board is reported as declining.
        (
            "The harbour board declined to comment on the report.",
            "harbour",
            "The harbour board",
            "declined",
            "STANCE",
        ),
        # A light verb with a noun of saying.
        (
            "Senator Jane Doe made the case that the tax would hurt farmers.",
            "tax",
            "Senator Jane Doe",
            "made",
            "REPORTING",
        ),
        (
            "As one organizer put it, the march was a warning to the council.",
            "march",
            "one organizer",
            "put",
            "REPORTING",
        ),
        # A stance adjective after "be", and "see ... as".
        ("Teachers are confident that the strike will end soon.", "strike", "Teachers", "are", "STANCE"),
        ("Many farmers see the new tariff as a betrayal.", "tariff", "Many farmers", "see", "STANCE"),
        # A relative clause set off by commas asserts: the Gazette opposes the plan.
        (
            "The Riverside Gazette, which opposes the plan, printed the letter on Tuesday.",
            "Gazette",
            "The Riverside Gazette",
            "opposes",
            "STANCE",
        ),
        # Publishing, and "called on".
        ("The union released new figures on Monday.", "figures", "The union", "released", "REPORTING"),
        ("The mayor called on the state to fund the bridge.", "bridge", "The mayor", "called", "REPORTING"),
        # A participle after the content is the first speaker's, not the content's subject's.
        (
            "Mayor Tom Reed said the old road is unsafe, stating that repairs would start in June.",
            "repairs",
            "Mayor Tom Reed",
            "stating",
            "REPORTING",
        ),
    ],
)
def test_more_cue_forms(body, fragment, speaker, cue, cue_kind, spacy_nlp):
    claim = claim_for(article_of(body, spacy_nlp), fragment)
    found = [(a.speaker, a.cue.text, a.cue_kind) for a in claim.attributions]
    assert (speaker, cue, cue_kind) in found


@pytest.mark.parametrize(
    "body",
    [
        # Asking for anonymity says nothing; a relative clause that only picks out its noun neither.
        "A worker at the depot, who asked not to be named, described the night shift.",
        "The voters who are tired of the race stayed at home.",
    ],
)
def test_relative_clauses_that_attribute_nothing(body, spacy_nlp):
    enriched = article_of(body, spacy_nlp)
    cues = [a.cue.text for c in enriched.claims for a in c.attributions]
    assert "asked" not in cues and "are" not in cues


def test_a_sentence_holds_two_attributions(spacy_nlp):
    body = "Trump said the deal was bad, but Clinton argued that it saved 300 jobs."
    claim = claim_for(article_of(body, spacy_nlp), "deal")
    assert [a.speaker for a in claim.attributions] == ["Trump", "Clinton"]
    assert [a.cue.text for a in claim.attributions] == ["said", "argued"]
    assert claim.speaker == "Trump"  # the main attribution: the first outermost one


@pytest.mark.parametrize(
    ("body", "fragment", "source", "speaker"),
    [
        # The last person to speak, not the last one named: "He said Clinton has ..." is not Clinton.
        (
            "Donald Trump spoke to voters in Iowa on Monday.\n\n"
            "He said Clinton has lied about 30,000 emails.",
            "lied",
            "He",
            "Donald Trump",
        ),
        # A first name gives a gender.
        (
            "Hillary Clinton met Bernie Sanders on Monday.\n\nShe said the party would unite by July.",
            "unite",
            "She",
            "Hillary Clinton",
        ),
        # Conjoined verbs share their subject: "... and declared".
        (
            'Senator Elizabeth Warren took the stage in Boston.\n\nShe stood up and declared, "We will win."',
            "declared",
            "She",
            "Elizabeth Warren",
        ),
        # "it" is an organization.
        (
            "Acme Corp published its results on Monday.\n\nIt said sales rose by 5% in 2015.",
            "sales",
            "It",
            "Acme Corp",
        ),
    ],
)
def test_pronouns_resolve_to_their_antecedent(body, fragment, source, speaker, spacy_nlp):
    attribution = claim_for(article_of(body, spacy_nlp), fragment).attributions[0]
    assert (attribution.source.text, attribution.speaker) == (source, speaker)


def test_spans_point_into_the_article_text(spacy_nlp):
    enriched = article_of(
        "Trump said the deal was bad, but Clinton argued that it saved 300 jobs.\n\n"
        "Officials expect that the bridge will reopen in May, according to the city council.",
        spacy_nlp,
    )
    attributions = [(c, a) for c in enriched.claims for a in c.attributions]
    assert len(attributions) >= 4
    for claim, a in attributions:
        assert enriched.text[a.source.start : a.source.end] == a.source.text
        assert enriched.text[a.cue.start : a.cue.end] == a.cue.text
        assert claim.start <= a.content.start < a.content.end <= claim.end
    # and they survive the trip through Avro's dict form
    assert from_avro("enriched_article", to_avro(enriched)).claims == enriched.claims


def test_the_polnear_benchmark_scores_a_corpus(tmp_path):
    """The benchmark on a two-article sample in PolNeAR's layout, written for this test."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "attribution_polnear.py"),
            str(SAMPLE),
            "--split",
            "dev",
            "--cache",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    out = result.stdout
    assert "4 attributions with a named source" in out
    assert "recall main 1.000 (4/4)" in out
    assert "precision main 1.000" in out
    assert "pronoun sources (he/she/they/it) right: main 1.000 (1/1)" in out


@pytest.mark.parametrize(
    ("body", "fragment", "speaker", "source", "cue"),
    [
        # Shapes learned from PolNeAR train (pipelines/claims/learned_cues.json), none in the lexicon.
        ("The mayor blamed the council for the delays.", "delays", "The mayor", "The mayor", "blamed"),
        (
            "Senator Jane Doe lashed out at the new budget.",
            "budget",
            "Senator Jane Doe",
            "Senator Jane Doe",
            "lashed",
        ),
        ("Governor Smith was quick to reject the bill.", "reject", "Governor Smith", "Governor Smith", "was"),
        # A noun owned by its source, the owner's "'s" left out; a possessive pronoun resolved.
        (
            "The governor's assertion that taxes will fall drew criticism.",
            "taxes",
            "The governor",
            "The governor",
            "assertion",
        ),
        (
            "Hillary Clinton spoke in Ohio on Monday.\n\nHer embrace of the plan surprised her aides.",
            "embrace",
            "Hillary Clinton",
            "Her",
            "embrace",
        ),
    ],
)
def test_learned_cue_shapes(body, fragment, speaker, source, cue, spacy_nlp):
    claim = claim_for(article_of(body, spacy_nlp), fragment)
    found = [(a.speaker, a.source.text, a.cue.text, a.cue_kind) for a in claim.attributions]
    assert (speaker, source, cue, "STANCE") in found


def test_a_learned_shape_needs_someone_to_hold_the_view(spacy_nlp):
    enriched = article_of(
        "The bill includes a tax on fuel.\n\nThe storm blamed nobody for the floods.", spacy_nlp
    )
    assert [a for c in enriched.claims for a in c.attributions] == []


def test_the_learned_cues_file_holds_shapes_and_counts_only():
    import json

    from pipelines.claims import learned

    document = json.loads((Path(learned.__file__).parent / learned.RESOURCE).read_text("utf-8"))
    assert document["patterns"]
    for key, (attributions, occurrences) in document["patterns"].items():
        kind, *words = key.split()  # "P assertion acl": a shape, its stems and what follows
        assert kind in "VLAP" and len(words) == (3 if kind == "L" else 2), key
        assert (
            document["min_count"] <= occurrences and attributions >= document["min_precision"] * occurrences
        )


@pytest.mark.parametrize(
    ("body", "fragment", "absent", "expected"),
    [
        # "they" under a cue stands for the cue's plural subject, not the last group named.
        (
            "Bernie Sanders met the union in Iowa.\n\nMost farmers said they would vote for the mayor.",
            "mayor",
            None,
            ("they", "Most farmers"),
        ),
        # An extraposed "it" speaks for no one.
        ("The council published its plan in May.\n\nIt is clear that the plan failed.", "clear", "It", None),
    ],
)
def test_they_and_it(body, fragment, absent, expected, spacy_nlp):
    enriched = article_of(body, spacy_nlp)
    found = [
        (a.source.text, a.speaker) for c in enriched.claims if fragment in c.text for a in c.attributions
    ]
    if expected is not None:
        assert expected in found
    assert all(source != absent for source, _ in found)


@pytest.mark.parametrize(
    ("body", "fragment", "speaker", "cue", "cue_kind"),
    [
        # An acronym opening the sentence is a subject, not the place of a dateline.
        (
            "NBC reported Monday that the senator will retire in May.",
            "retire",
            "NBC",
            "reported",
            "REPORTING",
        ),
        # The quoted words are not the subject of the verb of saying after them.
        (
            '"Not one of the bridges is safe," said Ruth Ellison, a county engineer.',
            "bridges",
            "Ruth Ellison",
            "said",
            "REPORTING",
        ),
        # "as X hope" and a passive belief with its agent.
        (
            "The new plant will open in June, as local farmers hope.",
            "plant",
            "local farmers",
            "hope",
            "STANCE",
        ),
        (
            "Mayor Ortiz is backed by 40 percent of the voters polled.",
            "Ortiz",
            "40 percent of the voters",
            "backed",
            "STANCE",
        ),
        # A poll whose finding the sentence reports "in" it.
        (
            "Senator Hale leads by six points in the latest Marist poll.",
            "Hale",
            "the latest Marist poll",
            "in",
            "NOUN",
        ),
        # A round-up's item under its headline.
        (
            'TURNOUT IS UP IN OHIO - Dana Price: "Early ballots are running ahead of 2012."',
            "ballots",
            "Dana Price",
            ":",
            "COLON",
        ),
    ],
)
def test_recall_round_cue_forms(body, fragment, speaker, cue, cue_kind, spacy_nlp):
    claim = claim_for(article_of(body, spacy_nlp), fragment)
    found = [(a.speaker, a.cue.text, a.cue_kind) for a in claim.attributions]
    assert (speaker, cue, cue_kind) in found, found


def test_a_poll_in_a_phrase_reports_nothing(spacy_nlp):
    enriched = article_of("His drop in the polls worried the donors.", spacy_nlp)
    assert not [a for c in enriched.claims for a in c.attributions if a.cue_kind == "NOUN"]


def parsed(words, heads, deps, pos, tags, ents=None):
    """A doc with the parse given: the parser's mistakes on long news sentences, made small.

    A quotation mark opens at the start and closes elsewhere; punctuation hugs the word before.
    """
    import spacy
    from spacy.tokens import Doc

    glued = [w in ',."' and i > 0 for i, w in enumerate(words)]
    glued[0] = False
    spaces = [
        not (i == 0 and w == '"') and i + 1 < len(words) and not glued[i + 1] for i, w in enumerate(words)
    ]
    return Doc(
        spacy.blank("en").vocab,
        words=words,
        spaces=spaces,
        heads=heads,
        deps=deps,
        pos=pos,
        tags=tags,
        ents=ents,
    )


@pytest.mark.parametrize(
    ("words", "heads", "deps", "pos", "tags", "ents", "speaker"),
    [
        # '"Rubbish," said Nolan.' parsed with the quoted word as the subject.
        (
            ['"', "Rubbish", ",", '"', "said", "Nolan", "."],
            [4, 4, 4, 4, 4, 4, 4],
            ["punct", "nsubj", "punct", "punct", "ROOT", "dobj", "punct"],
            ["PUNCT", "NOUN", "PUNCT", "PUNCT", "VERB", "PROPN", "PUNCT"],
            ["``", "NN", ",", "''", "VBD", "NNP", "."],
            None,
            "Nolan",
        ),
        # The same, the speaker taken for the object of a verb without a subject.
        (
            ['"', "Never", ",", '"', "recalled", "Hobbs", "."],
            [4, 4, 4, 4, 4, 4, 4],
            ["punct", "advmod", "punct", "punct", "ROOT", "dobj", "punct"],
            ["PUNCT", "ADV", "PUNCT", "PUNCT", "VERB", "PROPN", "PUNCT"],
            ["``", "RB", ",", "''", "VBD", "NNP", "."],
            None,
            "Hobbs",
        ),
        # "Farmers, Lee argued, pay": two subjects hung on the verb; the nearest speaks.
        (
            ["Farmers", ",", "Lee", "argued", ",", "pay", "."],
            [3, 3, 3, 5, 5, 5, 5],
            ["nsubj", "punct", "nsubj", "parataxis", "punct", "ROOT", "punct"],
            ["NOUN", "PUNCT", "PROPN", "VERB", "PUNCT", "VERB", "PUNCT"],
            ["NNS", ",", "NNP", "VBD", ",", "VBP", "."],
            None,
            "Lee",
        ),
        # A name set off from its verb by an aside, hung by the parser on the clause before it.
        (
            ["Files", "were", "lost", ",", "Pat", "Kennedy", ",", "an", "aide", ",", "wrote", "."],
            [2, 2, 10, 2, 5, 0, 5, 8, 5, 10, 10, 10],
            ["nsubjpass", "auxpass", "ccomp", "punct", "compound", "appos", "punct", "det", "appos", "punct"]
            + ["ROOT", "punct"],
            ["NOUN", "AUX", "VERB", "PUNCT", "PROPN", "PROPN", "PUNCT", "DET", "NOUN", "PUNCT"]
            + ["VERB", "PUNCT"],
            ["NNS", "VBD", "VBN", ",", "NNP", "NNP", ",", "DT", "NN", ",", "VBD", "."],
            ["O", "O", "O", "O", "B-PERSON", "I-PERSON", "O", "O", "O", "O", "O", "O"],
            "Pat Kennedy",
        ),
        # The aside is the name itself: "a spokeswoman, Anna White, said".
        (
            ["Files", "were", "lost", ",", "a", "spokeswoman", ",", "Anna", "White", ",", "said", "."],
            [2, 2, 10, 2, 5, 0, 5, 8, 5, 10, 10, 10],
            ["nsubjpass", "auxpass", "ccomp", "punct", "det", "appos", "punct", "compound", "appos", "punct"]
            + ["ROOT", "punct"],
            ["NOUN", "AUX", "VERB", "PUNCT", "DET", "NOUN", "PUNCT", "PROPN", "PROPN", "PUNCT"]
            + ["VERB", "PUNCT"],
            ["NNS", "VBD", "VBN", ",", "DT", "NN", ",", "NNP", "NNP", ",", "VBD", "."],
            ["O", "O", "O", "O", "O", "O", "O", "B-PERSON", "I-PERSON", "O", "O", "O"],
            "Anna White",
        ),
        # "were quick to condemn": the subject of "be" condemns.
        (
            ["Readers", "were", "quick", "to", "condemn", "the", "ruling", "."],
            [1, 1, 1, 4, 2, 6, 4, 1],
            ["nsubj", "ROOT", "acomp", "aux", "xcomp", "det", "dobj", "punct"],
            ["NOUN", "AUX", "ADJ", "PART", "VERB", "DET", "NOUN", "PUNCT"],
            ["NNS", "VBD", "JJ", "TO", "VB", "DT", "NN", "."],
            None,
            "Readers",
        ),
        # A finite verb hung on a noun as its modifier is the noun's own verb.
        (
            ["A", "paper", "urged", "Clinton", "to", "visit", "."],
            [1, 1, 1, 2, 5, 2, 1],
            ["det", "ROOT", "acl", "dobj", "aux", "xcomp", "punct"],
            ["DET", "NOUN", "VERB", "PROPN", "PART", "VERB", "PUNCT"],
            ["DT", "NN", "VBD", "NNP", "TO", "VB", "."],
            None,
            "A paper",
        ),
        # So is a participle after a name and a comma: "Mitt Romney, the nominee, tweeted".
        (
            ["Mitt", "Romney", ",", "the", "nominee", ",", "tweeted", "in", "response", "."],
            [1, 1, 1, 4, 1, 1, 1, 6, 7, 1],
            ["compound", "ROOT", "punct", "det", "appos", "punct", "acl", "prep", "pobj", "punct"],
            ["PROPN", "PROPN", "PUNCT", "DET", "NOUN", "PUNCT", "VERB", "ADP", "NOUN", "PUNCT"],
            ["NNP", "NNP", ",", "DT", "NN", ",", "VBN", "IN", "NN", "."],
            ["B-PERSON", "I-PERSON", "O", "O", "O", "O", "O", "O", "O", "O"],
            "Mitt Romney",
        ),
    ],
)
def test_parse_mistakes_that_keep_the_speaker(words, heads, deps, pos, tags, ents, speaker):
    from pipelines.claims.attribution import attributions

    doc = parsed(words, heads, deps, pos, tags, ents)
    assert [a.speaker for a in attributions(doc[:], doc)] == [speaker]


@pytest.mark.parametrize(
    ("body", "fragment", "speaker"),
    [
        # Any verb that tags a quotation speaks it.
        ('"Sit down and wait your turn," Lopez snarled.', "Sit down", "Lopez"),
        # A single quotation closing inside a double one: the double mark closes too.
        ("\"They ask, 'Is this important,' \" Magel said at the rally.", "They ask", "Magel"),
        # Verbs of praise and complaint with an object.
        ("Sanders hailed the ruling on Friday.", "hailed", "Sanders"),
        # "Even" picks out no one: the speaker is the phrase after it.
        ("Even some of the mayor's allies said it was a mistake.", "mistake", "some of the mayor's allies"),
        # AP's running headline "The Latest:" names no one; the verb after it does.
        ("The Latest: Clinton tells voters she is with them.", "voters", "Clinton"),
    ],
)
def test_verbs_that_tag_or_judge(body, fragment, speaker, spacy_nlp):
    claim = claim_for(article_of(body, spacy_nlp), fragment)
    assert claim.speaker == speaker


def test_a_quotation_goes_on_in_the_next_paragraph(spacy_nlp):
    body = '"We will win this state," Trump said.\n\n"Nobody is going to stop us now."'
    claim = claim_for(article_of(body, spacy_nlp), "Nobody")
    assert claim.speaker == "Trump" and claim.quoted


def test_a_belief_inside_a_long_quotation_is_not_the_believer_s(spacy_nlp):
    body = '"We will win this state," Trump said. "We will win it big.\n\nVoters want change."'
    claim = claim_for(article_of(body, spacy_nlp), "Voters")
    assert claim.speaker != "Voters"


@pytest.mark.parametrize(
    ("body", "fragment", "speaker"),
    [
        # A title-case headline the tagger reads as one long name: the known cue word splits it.
        ("Veteran Organizer Jane Whitfield Endorses Tom Reyes For Governor.", "Reyes", "Jane Whitfield"),
        ("Update: Mayor Ruth Okafor Just Slams State Budget Cuts.", "Budget", "Ruth Okafor"),
        # A colon after the cue ends no label.
        ("Mayor Ruth Okafor Praises City Budget Chief: 'A Great Manager.'", "Praises", "Ruth Okafor"),
    ],
)
def test_a_headline_s_source(body, fragment, speaker, spacy_nlp):
    claim = claim_for(article_of(f"{body}\n\nThe race goes on.", spacy_nlp), fragment)
    assert claim.speaker is not None and speaker in claim.speaker


@pytest.mark.parametrize(
    ("body", "fragment", "speaker"),
    [
        # A present participle right after its noun: the noun speaks through it.
        (
            "The mayor held a lead in the spring, with polls showing her ahead by nine points.",
            "spring",
            "polls",
        ),
        ("A petition calling for a new vote has reached 40,000 signatures.", "petition", "A petition"),
        # After an object, the subject of the verb above speaks: "X wrote an op-ed urging".
        ("Senator Ada Price wrote a column urging Congress to pass the bill.", "column", "Senator Ada Price"),
        # The small model reads the cue after a short opening subject as a noun.
        ("Many fear the mayor will raise taxes again.", "taxes", "Many"),
        ("Trump predicts that as rivals drop out, many of their voters will switch.", "rivals", "Trump"),
        # A writing finds or reads what it says; "voters find it hard" is no cue.
        ("A new county poll finds the mayor ahead by six points.", "poll", "A new county poll"),
        ('"Stay home on Sunday," the sign read.', "Sunday", "the sign"),
        # Knowing, wondering and chanting are annotated as attributions.
        ("Reporters know they are being spun by the campaign.", "spun", "Reporters"),
        ('The crowd chanted, "Build the bridge!"', "crowd", "The crowd"),
        # A cause's object does what the infinitive says.
        (
            "The landslide led party chair Ann Cole to declare the race over.",
            "landslide",
            "party chair Ann Cole",
        ),
        ("The closure caused many residents to wonder if the bus will return.", "closure", "many residents"),
    ],
)
def test_a_speaker_found_by_a_shape_of_attribution(body, fragment, speaker, spacy_nlp):
    assert speaker in speakers_on(body, fragment, spacy_nlp)


def test_a_participle_after_a_thing_speaks_for_no_one(spacy_nlp):
    body = "Trump was heard on a microphone telling Christie to go home."
    assert "a microphone" not in speakers_on(body, "microphone", spacy_nlp)


def test_a_cue_word_that_is_a_noun_opens_no_attribution(spacy_nlp):
    body = "The campaign plans for the fall are based on a new poll of voters."
    claims = article_of(body, spacy_nlp).claims
    assert all(a.speaker != "The" for c in claims for a in c.attributions)


def test_reading_is_no_cue_of_a_reader(spacy_nlp):
    body = "Most voters read the county paper, which costs $2, every morning."
    claims = article_of(body, spacy_nlp).claims
    assert all(a.speaker != "Most voters" for c in claims for a in c.attributions)


def test_a_belief_before_a_scare_quote_is_the_believer_s(spacy_nlp):
    body = 'The mayor believes in budgets that "add up."'
    claim = claim_for(article_of(body, spacy_nlp), "budgets")
    assert claim.speaker == "The mayor" and claim.cue == "believes"


def test_a_clause_asking_for_anonymity_attributes_nothing(spacy_nlp):
    body = 'A senior nurse at Kelso General, who did not want to be named, said wards were "full".'
    claim = claim_for(article_of(body, spacy_nlp), "nurse")
    assert claim.speaker == "A senior nurse at Kelso General"
    assert [a.cue.text for a in claim.attributions] == ["said"]


def test_the_object_of_an_urging_does_not_speak(spacy_nlp):
    body = "The mayor urged residents to vote for the new bridge in 2024."
    assert "residents" not in speakers_on(body, "bridge", spacy_nlp)


@pytest.mark.parametrize(
    ("body", "fragment", "speaker"),
    [
        (
            "Any honest reading of the council's actions, said Jo Marsh, points to a cover-up.",
            "reading",
            "Jo Marsh",
        ),
        ("And the mayor, said Tom Reyes, will not forgive or forget.", "mayor", "Tom Reyes"),
    ],
)
def test_a_speech_tag_after_a_comma_names_the_speaker(body, fragment, speaker, spacy_nlp):
    assert claim_for(article_of(body, spacy_nlp), fragment).speaker == speaker


def test_a_quotation_closing_an_inner_one_keeps_its_speech_tag(spacy_nlp):
    # The New York Times writes quote marks as two apostrophes; ",''' said" closes two quotations.
    body = "''I would call it 'old-school,''' said Jo Marsh, who ran the county office."
    claim = claim_for(article_of(body, spacy_nlp), "old-school")
    assert claim.speaker == "Jo Marsh"
