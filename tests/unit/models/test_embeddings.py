"""Superfiltering.D's embeddings: all-MiniLM-L6-v2 truncated as do_fla.py truncates (512 tokens)."""

import random

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from workflow_lib.models.embeddings import embed_texts, minilm_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def minilm():
    folder = minilm_dir()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def do_fla_embedding(minilm, text: str, max_length: int) -> torch.Tensor:
    """get_sentence_embeddings of do_fla.py for one text, truncated at `max_length` tokens."""
    tok, model = minilm
    encoded = tok([text], padding=True, truncation=True, max_length=max_length,
                  return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded)[0]
    mask = encoded["attention_mask"].unsqueeze(-1).expand(hidden.size()).float()
    pooled = torch.sum(hidden * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
    return F.normalize(pooled, p=2, dim=1)[0]


def text_of(minilm, n_tokens: int) -> str:
    """Common words of one token each, `n_tokens` of them (plus [CLS] and [SEP] when encoded)."""
    tok, _ = minilm
    words = [w for w in tok.vocab if w.isalpha() and len(w) > 3][:2000]
    text = " ".join(random.Random(0).choices(words, k=n_tokens))
    assert len(tok.tokenize(text)) == n_tokens
    return text


def test_a_300_token_text_is_embedded_whole(minilm):
    text = text_of(minilm, 300)
    [got] = embed_texts([text])
    assert torch.allclose(got, do_fla_embedding(minilm, text, 512), atol=1e-6)
    # sentence-transformers' max_seq_length (256) would cut it: another embedding
    assert (got - do_fla_embedding(minilm, text, 256)).abs().max() > 1e-3


def test_a_600_token_text_is_cut_at_the_tokenizers_limit(minilm):
    text = text_of(minilm, 600)
    [got] = embed_texts([text])
    assert torch.allclose(got, do_fla_embedding(minilm, text, 512), atol=1e-6)
