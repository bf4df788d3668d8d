"""arXiv reads through the real ``arxiv`` client against the loopback Atom stand-in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acquisition import Acquirer
from oda.errors import AcquisitionError, InputError, NotFoundError, RateLimitedError
from standins.arxiv import serve_arxiv
from tests.acquisition.conftest import PAPER


def _cfg(fast_config, server, **overrides):
    return fast_config(arxiv_endpoint=server.query_url, arxiv_html_base=server.html_base, **overrides)


@pytest.mark.parametrize(
    "ref",
    [
        "2401.01234",
        "2401.01234v2",
        "arXiv:2401.01234",
        "https://arxiv.org/abs/2401.01234",
        "https://arxiv.org/pdf/2401.01234v1",
        "https://huggingface.co/papers/2401.01234",
        "https://hf.co/papers/2401.01234",
    ],
)
async def test_paper_by_id_or_url(arxiv_server, fast_config, ref):
    async with Acquirer(_cfg(fast_config, arxiv_server)) as acq:
        paper = await acq.arxiv_paper(ref)
    assert paper.arxiv_id == "2401.01234"
    assert paper.title == PAPER["title"]
    assert paper.abstract == PAPER["abstract"]
    assert paper.authors == ["Ada Author", "Bo Author"]
    assert paper.published == datetime(2024, 1, 2, tzinfo=UTC)
    assert paper.url == "https://arxiv.org/abs/2401.01234"
    assert paper.text is None


async def test_paper_by_title(arxiv_server, fast_config):
    async with Acquirer(_cfg(fast_config, arxiv_server)) as acq:
        paper = await acq.arxiv_paper("alpha: rewriting math problems at scale")
        with pytest.raises(NotFoundError):
            await acq.arxiv_paper("A Completely Different Paper Title")
    assert paper.arxiv_id == "2401.01234"


async def test_full_text_keeps_only_data_construction(arxiv_server, fast_config):
    async with Acquirer(_cfg(fast_config, arxiv_server)) as acq:
        paper = await acq.arxiv_paper("2401.01234", full_text=True)
    assert paper.text is not None
    assert "We took org/beta and rewrote each problem" in paper.text
    assert "We removed items overlapping with MATH." in paper.text  # a subsection of the data section
    for dropped in ("MetaMath did something else", "We fine-tuned Llama", "Someone. 2023"):
        assert dropped not in paper.text


async def test_full_text_missing_leaves_text_none(fast_config):
    with serve_arxiv([PAPER], html=False) as server:
        async with Acquirer(_cfg(fast_config, server)) as acq:
            paper = await acq.arxiv_paper("2401.01234", full_text=True)
    assert paper.text is None and paper.title == PAPER["title"]


async def test_unknown_id_is_not_found(arxiv_server, fast_config):
    async with Acquirer(_cfg(fast_config, arxiv_server)) as acq:
        with pytest.raises(NotFoundError, match=r"2501\.99999"):
            await acq.arxiv_paper("2501.99999")


async def test_api_outage_shorter_than_retries_recovers(fast_config):
    with serve_arxiv([PAPER], fail_times=2, status=503) as server:
        async with Acquirer(_cfg(fast_config, server, retries=3)) as acq:
            paper = await acq.arxiv_paper("2401.01234")
            assert acq.stats.retries == 2
    assert paper.arxiv_id == "2401.01234" and server.api_hits == 3


@pytest.mark.parametrize(("status", "error"), [(503, AcquisitionError), (429, RateLimitedError)])
async def test_api_outage_longer_than_retries_fails_typed(fast_config, status, error):
    with serve_arxiv([PAPER], fail_times=100, status=status) as server:
        async with Acquirer(_cfg(fast_config, server, retries=2)) as acq:
            with pytest.raises(error):
                await acq.arxiv_paper("2401.01234")
    assert server.api_hits == 3


async def test_malformed_feed_is_not_found(fast_config):
    with serve_arxiv([PAPER], malformed=True) as server:
        async with Acquirer(_cfg(fast_config, server)) as acq:
            with pytest.raises(NotFoundError):
                await acq.arxiv_paper("2401.01234")


async def test_arxiv_timeout_is_typed(fast_config):
    from oda.errors import FetchTimeoutError

    with serve_arxiv([PAPER], latency_s=1.0) as server:
        async with Acquirer(_cfg(fast_config, server, timeout_s=0.3, retries=0)) as acq:
            with pytest.raises(FetchTimeoutError):
                await acq.arxiv_paper("2401.01234")


async def test_arxiv_record_and_replay(arxiv_server, fast_config, tmp_path):
    async with Acquirer(_cfg(fast_config, arxiv_server, record_dir=tmp_path / "s")) as acq:
        live = await acq.arxiv_paper("2401.01234", full_text=True)
    hits = len(arxiv_server.requests)
    async with Acquirer(
        fast_config(
            snapshot_dir=tmp_path / "s",
            offline=True,
            arxiv_endpoint=arxiv_server.query_url,
            arxiv_html_base=arxiv_server.html_base,
        )
    ) as acq:
        assert await acq.arxiv_paper("2401.01234", full_text=True) == live
    assert len(arxiv_server.requests) == hits


@pytest.mark.parametrize(
    "ref", ["", "   ", "x", "https://example.com/paper", "https://huggingface.co/datasets/a/b"]
)
async def test_bad_arxiv_references_are_input_errors(arxiv_server, fast_config, ref):
    async with Acquirer(_cfg(fast_config, arxiv_server)) as acq:
        with pytest.raises(InputError):
            await acq.arxiv_paper(ref)
    assert arxiv_server.requests == []


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with one text line per entry (Helvetica), written by hand."""
    content = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


async def test_pdf_full_text_when_no_html(fast_config):
    pdf = make_pdf(
        [
            "1 Introduction",
            "Why.",
            "2 Related Work",
            "Others did X.",
            "3 Data Construction",
            "We sampled org/beta with a teacher.",
            "4 Experiments",
            "We trained.",
            "References",
            "[1] Y.",
        ]
    )
    paper = {**PAPER, "full_text": None, "pdf": pdf}
    with serve_arxiv([paper]) as server:
        async with Acquirer(_cfg(fast_config, server)) as acq:
            result = await acq.arxiv_paper("2401.01234", full_text=True)
    assert result.text is not None and "We sampled org/beta with a teacher." in result.text
    assert "Others did X." not in result.text and "We trained." not in result.text


async def test_broken_pdf_leaves_text_none(fast_config):
    with serve_arxiv([{**PAPER, "full_text": None, "pdf": b"%PDF-1.4 garbage"}]) as server:
        async with Acquirer(_cfg(fast_config, server)) as acq:
            result = await acq.arxiv_paper("2401.01234", full_text=True)
            assert acq.stats.failures == {"full_text:ContentError": 1}
    assert result.text is None
