"""nearest_code agrees with vector-quantize-pytorch's own search, and the fast-search patch changes nothing else."""

from __future__ import annotations

import copy
import random

import pytest

torch = pytest.importorskip("torch")
vqp = pytest.importorskip("vector_quantize_pytorch")

from tokbench.kernels import nearest_code  # noqa: E402
from tokbench.kernels.reference import disagreements  # noqa: E402
from tokbench.kernels.vq_patch import (  # noqa: E402
    FastSearchCodebook, disable_fast_search, enable_fast_search, fast_search, vq_search)


@pytest.fixture(autouse=True)
def _seed(monkeypatch):
    monkeypatch.setenv("TOKBENCH_LOOKUP", "torch")
    seed = random.SystemRandom().randrange(2**31)
    print(f"seed={seed}")
    torch.manual_seed(seed)


@pytest.mark.parametrize("n,k,d", [(1, 7, 1), (500, 300, 8), (257, 1000, 32)])
def test_same_indices_as_library_search(n, k, d):
    vq = vqp.VectorQuantize(dim=d, codebook_size=k, use_cosine_sim=False).eval()
    x = torch.randn(1, n, d)
    with torch.no_grad():
        _, lib_idx, _ = vq(x)
    ours = nearest_code(x, vq.codebook)
    assert ours.shape == lib_idx.shape
    differ = (ours != lib_idx).sum().item()
    # the library breaks near-ties on sqrt-clamped fp32 distances; any difference must be an equal-distance tie
    assert disagreements(ours, x, vq.codebook).numel() == 0
    assert disagreements(lib_idx, x, vq.codebook).numel() == 0
    assert differ <= max(1, n // 100)


CONFIGS = [
    dict(),
    dict(use_cosine_sim=True),
    dict(heads=2, separate_codebook_per_head=True),
    dict(heads=2),
    dict(codebook_dim=4),
    dict(accept_image_fmap=True),
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda kw: ",".join(kw) or "plain")
def test_vq_search_matches_library_eval_forward(kwargs):
    vq = vqp.VectorQuantize(dim=8, codebook_size=96, **kwargs).eval()
    x = torch.randn(3, 8, 5, 5) if kwargs.get("accept_image_fmap") else torch.randn(3, 40, 8)
    with torch.no_grad():
        q, idx, _ = vq(x)
    q2, idx2 = vq_search(vq, x)
    assert type(vq._codebook) is vqp.vector_quantize_pytorch.Codebook  # restored
    assert idx2.shape == idx.shape and q2.shape == q.shape
    assert torch.equal(idx, idx2)
    assert torch.equal(q, q2)


def test_residual_vq_and_context_manager():
    rvq = vqp.ResidualVQ(dim=8, num_quantizers=3, codebook_size=64).eval()
    x = torch.randn(2, 50, 8)
    with torch.no_grad():
        q, idx, _ = rvq(x)
        with fast_search(rvq) as m:
            assert sum(type(c) is FastSearchCodebook for c in m.modules()) == 3
            q2, idx2, _ = rvq(x)
    assert not any(type(c) is FastSearchCodebook for c in rvq.modules())
    assert torch.equal(idx, idx2) and torch.equal(q, q2)


def test_training_steps_are_identical_with_fast_search():
    vq = vqp.VectorQuantize(dim=8, codebook_size=64, decay=0.8, threshold_ema_dead_code=1).train()
    fast = copy.deepcopy(vq)
    assert enable_fast_search(fast) == 1 and enable_fast_search(fast) == 1  # idempotent
    for _ in range(3):
        x = torch.randn(4, 40, 8)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        step_seed = random.randrange(2**31)  # dead-code replacement samples: same draws for both
        torch.manual_seed(step_seed)
        qa, ia, la = vq(xa)
        torch.manual_seed(step_seed)
        qb, ib, lb = fast(xb)
        (qa.sum() + la).backward()
        (qb.sum() + lb).backward()
        assert torch.equal(ia, ib) and torch.equal(qa, qb) and torch.equal(la, lb)
        assert torch.equal(xa.grad, xb.grad)
        assert torch.equal(vq._codebook.embed, fast._codebook.embed)
    assert fast.state_dict().keys() == vq.state_dict().keys()
    assert disable_fast_search(fast) == 1


def test_library_fallbacks_still_work():
    # distances are needed for the cross-entropy call; stochastic sampling and topk go to the library too
    vq = vqp.VectorQuantize(dim=4, codebook_size=32, stochastic_sample_codes=True, sample_codebook_temp=0.5)
    enable_fast_search(vq)
    x = torch.randn(2, 10, 4)
    vq.train()
    vq(x)
    vq.eval()
    with torch.no_grad():
        _, idx, _ = vq(x)
        _, ce = vq(x, indices=idx)
        q, topk_idx, _ = vq(x, topk=2)
    assert torch.isfinite(ce) and topk_idx.shape == (2, 10, 2)
    assert torch.equal(topk_idx[..., 0], idx)


def test_masked_training_and_eval_are_identical():
    vq = vqp.VectorQuantize(dim=6, codebook_size=40, decay=0.9).train()  # (the library itself fails on heads + mask)
    fast = copy.deepcopy(vq)
    enable_fast_search(fast)
    x = torch.randn(3, 12, 6)
    lens = torch.tensor([12, 5, 9])
    step_seed = random.randrange(2**31)
    torch.manual_seed(step_seed)
    qa, ia, la = vq(x, lens=lens)
    torch.manual_seed(step_seed)
    qb, ib, lb = fast(x, lens=lens)
    assert torch.equal(ia, ib) and torch.equal(qa, qb) and torch.equal(la, lb)
    assert torch.equal(vq._codebook.embed_avg, fast._codebook.embed_avg)
    vq.eval()
    fast.eval()
    with torch.no_grad():
        assert torch.equal(vq(x, lens=lens)[1], fast(x, lens=lens)[1])
