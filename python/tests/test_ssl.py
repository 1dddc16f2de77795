"""jess.ssl: C++ criteria inside Python autograd, against PyTorch implementations of the same formulas."""
import pytest
import torch

import jess


def vicreg_reference(z1, z2, inv=25.0, var=25.0, cov=1.0, eps=1e-4):
    def variance(z):
        return torch.relu(1 - torch.sqrt(z.var(0) + eps)).mean()

    def covariance(z):
        b, d = z.shape
        zc = z - z.mean(0)
        c = zc.T @ zc / (b - 1)
        return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / d

    return (inv * torch.nn.functional.mse_loss(z1, z2) + var * (variance(z1) + variance(z2)) / 2
            + cov * (covariance(z1) + covariance(z2)))


def nt_xent_reference(z1, z2, tau):
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return torch.nn.functional.cross_entropy(logits, target)


def pair(b=12, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(b, d, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = (z1.detach() + 0.3 * torch.randn(b, d, generator=g, dtype=torch.float64)).requires_grad_()
    return z1, z2


def test_registry_lists_the_methods():
    names = jess.ssl.names()
    for n in ("vicreg", "simclr", "barlow_twins", "dcl", "vicreg_exp"):
        assert n in names


@pytest.mark.parametrize("name,reference,keys", [
    ("vicreg", lambda a, b: vicreg_reference(a, b, 20.0, 15.0, 2.0, 1e-4),
     dict(invariance=20.0, variance=15.0, covariance=2.0, epsilon=1e-4)),
    ("simclr", lambda a, b: nt_xent_reference(a, b, 0.2), dict(temperature=0.2)),
])
def test_value_and_gradient_equal_torch(name, reference, keys):
    z1, z2 = pair()
    value, parts = jess.ssl.loss(name, **keys)(z1, z2)
    expected = reference(z1, z2)
    assert value.dtype == torch.float64 and value.grad_fn is not None
    torch.testing.assert_close(value, expected, rtol=1e-10, atol=1e-12)
    g = torch.autograd.grad(value, (z1, z2))
    e = torch.autograd.grad(expected, (z1, z2))
    for a, b in zip(g, e):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert isinstance(parts, dict) and parts
    # The C++ loss saw the caller's tensors themselves (no copies): backward fills their .grad.
    value2, _ = jess.ssl.loss(name, **keys)(z1, z2)
    value2.backward()
    torch.testing.assert_close(z1.grad, g[0]) and torch.testing.assert_close(z2.grad, g[1])


def test_vicreg_parts_are_the_unweighted_terms():
    z1, z2 = pair(seed=3)
    _, parts = jess.ssl.loss("vicreg")(z1, z2)
    assert parts["invariance"] == pytest.approx(torch.nn.functional.mse_loss(z1, z2).item(), rel=1e-12)


@pytest.mark.parametrize("name", ["vicreg", "simclr", "barlow_twins", "dcl", "vicreg_ctr"])
def test_gradients_match_finite_differences(name):
    z1, z2 = pair(b=6, d=4, seed=1)
    criterion = jess.ssl.loss(name)
    assert torch.autograd.gradcheck(lambda a, b: criterion(a, b)[0], (z1, z2), eps=1e-6, atol=1e-5)


def test_a_cxx_loss_trains_a_python_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x = torch.randn(64, 8)
    criterion = jess.ssl.loss("vicreg")
    first = None
    for _ in range(30):
        loss, _ = criterion(net(x + 0.1 * torch.randn_like(x)), net(x + 0.1 * torch.randn_like(x)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.8 * first


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="unknown"):
        jess.ssl.loss("not_a_method")
    with pytest.raises(ValueError, match="temperatur"):
        jess.ssl.loss("simclr", temperatur=0.1)
    with pytest.raises(ValueError, match="temperature"):
        jess.ssl.loss("simclr", temperature=-1.0)
    criterion = jess.ssl.loss("vicreg")
    with pytest.raises(ValueError, match="same shape"):
        criterion(torch.randn(4, 3), torch.randn(4, 5))
    with pytest.raises(ValueError, match="2-D"):
        criterion(torch.randn(4), torch.randn(4))
