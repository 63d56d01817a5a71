"""One message catalogue per language, with the same keys and placeholders (issue 15)."""
import pytest

import tr_widgets
from tr_widgets import i18n


def test_every_message_exists_in_every_language():
    en = i18n.CATALOGUES["en"]
    for lang, cat in i18n.CATALOGUES.items():
        assert set(cat) == set(en), (lang, sorted(set(cat) ^ set(en)))


@pytest.mark.parametrize("key", sorted(i18n.CATALOGUES["en"]))
def test_each_translation_fills_the_same_placeholders(key):
    want = i18n.placeholders(i18n.CATALOGUES["en"][key])
    for lang, cat in i18n.CATALOGUES.items():
        assert i18n.placeholders(cat[key]) == want, (lang, key, cat[key])
        assert cat[key].strip(), (lang, key)


def test_chinese_messages_are_written_in_chinese():
    zh, en = i18n.CATALOGUES["zh"], i18n.CATALOGUES["en"]
    han = [k for k, v in zh.items() if any("\u4e00" <= ch <= "\u9fff" for ch in v)]
    same = [k for k in zh if zh[k] == en[k] and any(c.isalpha() for c in i18n.CATALOGUES["en"][k])]
    assert len(han) >= 0.8 * len(zh), sorted(set(zh) - set(han))
    assert len(same) <= 0.1 * len(zh), same  # words left in English (symbols like "o_i" may stay)


def test_set_language_switches_and_returns_the_previous_one():
    before = tr_widgets.set_language("zh")
    try:
        assert tr_widgets.get_language() == "zh"
        assert i18n.msg("control.play") == i18n.CATALOGUES["zh"]["control.play"]
        with i18n.language("en"):
            assert i18n.msg("control.play") == "play"
        assert tr_widgets.get_language() == "zh"
    finally:
        tr_widgets.set_language(before)
    assert tr_widgets.get_language() == before


@pytest.mark.parametrize("bad", ["fr", "", None, 3])
def test_an_unknown_language_names_the_argument_and_the_choices(bad):
    with pytest.raises(tr_widgets.TraceInputError) as e:
        tr_widgets.set_language(bad)
    assert "lang" in str(e.value) and "zh" in str(e.value)
