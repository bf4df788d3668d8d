"""Fixtures for the acquisition layer: a hand-written world, its Hub stand-in, page and arXiv servers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from acquisition import Acquirer, AcquisitionConfig
from standins.arxiv import ArxivServer, serve_arxiv
from standins.hub import HubServer, serve_hub
from standins.pages import PageServer, serve_pages

ALPHA_CARD = """---
license: mit
pretty_name: Alpha
source_datasets:
- org/beta
- gsm8k
tags:
- math
- arxiv:2401.01234
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train.jsonl
---
# Alpha

Alpha rewrites [Beta](https://huggingface.co/datasets/org/beta) and GSM8K. Paper: arXiv:2401.01234,
also at https://huggingface.co/papers/2401.01234. Code: https://github.com/org/alpha-code .
Read the blog post: https://blog.example.com/posts/alpha.

```python
load("https://github.com/should/not-appear")
```
"""

PAPER = {
    "id": "2401.01234",
    "title": "Alpha: Rewriting Math Problems at Scale",
    "abstract": "We build Alpha by rewriting Beta.",
    "authors": ["Ada Author", "Bo Author"],
    "published": "2024-01-02T00:00:00Z",
    "full_text": (
        "# 1 Introduction\n\nMath data matters.\n\n# 2 Related Work\n\nMetaMath did something else.\n\n"
        "# 3 Data Construction\n\nWe took org/beta and rewrote each problem with a teacher model.\n\n"
        "## 3.1 Filtering\n\nWe removed items overlapping with MATH.\n\n"
        "# 4 Experiments\n\nWe fine-tuned Llama and beat GSM8K baselines.\n\n# References\n\n[1] Someone. 2023."
    ),
}


def make_world(root: Path) -> Path:
    """Write the test world: datasets in several access states, pages and one paper."""

    def dataset(
        rid: str, card: str | None, info: dict[str, Any] | None, data: dict[str, str] | None = None
    ) -> None:
        folder = root / "datasets" / rid
        folder.mkdir(parents=True)
        if card is not None:
            (folder / "README.md").write_text(card, encoding="utf-8")
        if info is not None:
            (folder / "info.json").write_text(json.dumps(info), encoding="utf-8")
        for name, text in (data or {}).items():
            path = folder / "data" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    dataset(
        "org/alpha",
        ALPHA_CARD,
        {"created_at": "2024-03-01T10:00:00Z", "downloads": 1234, "likes": 5, "tags": ["math", "en"]},
        {"train.jsonl": '{"q": "1+1", "a": "2"}\n', "sub/test.jsonl": '{"q": "2+2", "a": "4"}\n'},
    )
    dataset("org/beta", "---\nlicense: [unclosed\n---\n# Beta\n\nBody of beta.\n", {"downloads": 50})
    dataset("org/alpha-v2", "# Alpha v2\n\nNo front matter.\n", None)
    dataset("org/nocard", None, {"downloads": 3})
    dataset("org/gated", "---\nlicense: other\n---\nGated card.\n", {"gated": "manual"}, {"x.jsonl": "{}\n"})
    dataset("org/private", "Private card.\n", {"private": True})
    dataset("org/disabled", "Disabled.\n", {"disabled": True})
    (root / "pages").mkdir()
    (root / "pages" / "alpha-readme.md").write_text(
        "# alpha-code\n\nBuilt from org/beta.\n\n```bash\npip x\n```\n"
    )
    (root / "pages" / "blog.html").write_text(
        "<html><head><title>Alpha blog</title><script>var x = 1;</script></head><body><nav>Home | About</nav>"
        "<article><h1>Alpha</h1><p>We distilled from org/beta.</p></article><footer>(c) 2024</footer></body></html>"
    )
    (root / "pages.json").write_text(
        json.dumps(
            {
                "https://github.com/org/alpha-code": {"file": "pages/alpha-readme.md"},
                "https://blog.example.com/posts/alpha": {
                    "file": "pages/blog.html",
                    "content_type": "text/html",
                },
                "https://blog.example.com/dead": {"status": 404},
                "https://blog.example.com/old": {"redirect": "https://blog.example.com/posts/alpha"},
            }
        )
    )
    (root / "arxiv").mkdir()
    (root / "arxiv" / "2401.01234.json").write_text(json.dumps(PAPER))
    (root / "searches.txt").write_text("# extra searches\nalpha\n")
    return root


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    return make_world(tmp_path / "world")


@pytest.fixture
def hub(world_dir: Path) -> Iterator[HubServer]:
    with serve_hub(world_dir, tokens={"secret-token"}) as server:
        yield server


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with serve_pages(seed=1234) as server:
        yield server


@pytest.fixture
def arxiv_server() -> Iterator[ArxivServer]:
    with serve_arxiv([PAPER]) as server:
        yield server


@pytest.fixture
def fast_config() -> Callable[..., AcquisitionConfig]:
    """A config for tests: no pacing, short timeouts and backoffs."""

    def make(**overrides: Any) -> AcquisitionConfig:
        values: dict[str, Any] = {
            "per_host_rate": 0,
            "timeout_s": 2.0,
            "retries": 2,
            "backoff_base_s": 0.01,
            "max_backoff_s": 2.0,
            "hf_token": None,
        }
        values.update(overrides)
        return AcquisitionConfig(**values)

    return make


@pytest.fixture
def hub_acquirer(hub: HubServer, fast_config: Callable[..., AcquisitionConfig]) -> Callable[..., Acquirer]:
    def make(**overrides: Any) -> Acquirer:
        overrides.setdefault("hf_endpoint", hub.base_url)
        overrides.setdefault("arxiv_endpoint", f"{hub.base_url}/arxiv/api/query")
        return Acquirer(fast_config(**overrides))

    return make
