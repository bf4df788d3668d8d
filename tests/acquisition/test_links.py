"""Link discovery from cards: front matter and body."""

from __future__ import annotations

from acquisition import Card, discover_links, front_matter_sources
from acquisition.cards import split_card
from tests.acquisition.conftest import ALPHA_CARD


def card_of(raw: str, repo_id: str = "org/alpha") -> Card:
    front, body, error = split_card(raw)
    return Card(repo_id=repo_id, url="", raw=raw, front_matter=front, body=body, yaml_error=error)


def test_alpha_card_links_in_order_with_origins():
    links = discover_links(card_of(ALPHA_CARD))
    got = [(link.kind, link.ref, link.origin) for link in links]
    assert got == [
        ("hf_dataset", "org/beta", "front_matter"),
        ("arxiv", "2401.01234", "front_matter"),
        ("hf_paper", "2401.01234", "body"),
        ("github", "org/alpha-code", "body"),
        ("blog", "https://blog.example.com/posts/alpha", "body"),
    ]
    assert all("should/not-appear" not in link.url for link in links)  # links inside code blocks are ignored


def test_front_matter_sources_drop_original_and_extended_prefix():
    card = card_of("---\nsource_datasets:\n- original\n- extended|glue\n- org/beta\n- org/beta\n---\nbody")
    assert front_matter_sources(card) == ["glue", "org/beta"]
    assert front_matter_sources(card_of("---\nsource_datasets: squad\n---\n")) == ["squad"]
    assert front_matter_sources(card_of("---\nsource_datasets: 3\n---\n")) == []


def test_configs_data_files_naming_other_repos():
    raw = (
        "---\nconfigs:\n- config_name: a\n  data_files:\n  - split: train\n"
        "    path: hf://datasets/other/source@main/train.parquet\n- config_name: b\n  data_files: local.jsonl\n---\n"
    )
    links = discover_links(card_of(raw))
    assert [(link.kind, link.ref) for link in links] == [("hf_dataset", "other/source")]


def test_body_urls_of_every_kind():
    body = (
        "See https://arxiv.org/abs/2305.14233v2 and (https://arxiv.org/pdf/2401.00001.pdf).\n"
        "Data: https://huggingface.co/datasets/openai/gsm8k/viewer/main, hf.co mirror https://hf.co/datasets/x/y.\n"
        "Code at https://github.com/thunlp/UltraChat/tree/main/src; blog https://lmsys.org/blog/2023-03-30-vicuna/.\n"
        "Medium: https://medium.com/@me/my-post-123 and HF blog https://huggingface.co/blog/ultrachat.\n"
        "Not followed: https://example.com/about https://github.com/orgs/foo https://huggingface.co/org/model.\n"
        "Also arXiv: 2406.08464 mentioned in text.\n"
    )
    links = discover_links(card_of(body, repo_id="x/y"))
    got = [(link.kind, link.ref) for link in links]
    assert got == [
        ("arxiv", "2305.14233"),
        ("arxiv", "2401.00001"),
        ("hf_dataset", "openai/gsm8k"),
        ("github", "thunlp/UltraChat"),
        ("blog", "https://lmsys.org/blog/2023-03-30-vicuna/"),
        ("blog", "https://medium.com/@me/my-post-123"),
        ("blog", "https://huggingface.co/blog/ultrachat"),
        ("arxiv", "2406.08464"),
    ]  # x/y is the card's own dataset, so it is not a link


def test_front_matter_url_keys_and_paper_ids():
    raw = (
        "---\nhomepage: https://github.com/a/b\npaper: 2310.01377\nrepository: https://blog.acme.ai/p\n---\n"
    )
    got = [(link.kind, link.ref, link.origin) for link in discover_links(card_of(raw))]
    assert got == [
        ("github", "a/b", "front_matter"),
        ("blog", "https://blog.acme.ai/p", "front_matter"),
        ("arxiv", "2310.01377", "front_matter"),
    ]  # paper: 2310.01377 is a YAML float


def test_card_with_broken_yaml_still_yields_body_links():
    card = card_of("---\nsource_datasets: [unclosed\n---\nFrom https://github.com/a/b\n")
    assert card.yaml_error
    assert [(link.kind, link.ref) for link in discover_links(card)] == [("github", "a/b")]
