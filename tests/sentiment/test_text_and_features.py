from __future__ import annotations

from sentiment.data.features import TokenSettings, tokenize
from sentiment.data.text import NormaliserSettings, normalise

SETTINGS = NormaliserSettings()


def test_normalise_masks_urls_and_mentions_and_folds_case() -> None:
    text = "Loved it @Bob_99!  See https://t.co/abc and www.example.com"
    assert normalise(text, SETTINGS) == "loved it <user> ! see <url> and <url>"


def test_normalise_repairs_entities_and_mojibake() -> None:
    assert normalise("fish &amp;amp; chips", SETTINGS) == "fish & chips"
    assert normalise("cafÃ© crÃ¨me", SETTINGS) == "café crème"
    assert normalise("tab\there\u200bzero", SETTINGS) == "tab here zero"


def test_normalise_keeps_case_when_asked_and_email_is_not_a_mention() -> None:
    settings = NormaliserSettings(lowercase=False, url_token="URL", user_token="USER")
    assert normalise("Mail me@x.org @Ann", settings) == "Mail me@x.org USER"


def test_tokenize_keeps_emoticons_hashtags_and_placeholders() -> None:
    tokens = tokenize("soooooo good :) #driverless <user> <url>", TokenSettings())
    assert tokens == ["sooo", "good", ":)", "#driverless", "<user>", "<url>"]


def test_stop_words_keep_negations_and_stemming_stems() -> None:
    tokens = tokenize("the cars are not running", TokenSettings(remove_stopwords=True, stem=True))
    assert "the" not in tokens and "not" in tokens
    assert "car" in tokens and "run" in tokens
