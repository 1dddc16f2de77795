"""jess.models: a jess checkpoint as a torch.nn.Module gives jess's embeddings; fine-tuned in Python and
written back, the CLI reads the new weights."""
import os

import numpy as np
import pytest
import torch

import jess
from conftest import run_cli


def cli_embeddings(checkpoint, data, out):
    run_cli("pde", "embed", checkpoint, data, "--split", "test", "--view", "start", "--shifts", "1", "--out", out)
    return torch.from_numpy(np.load(out))


def python_embeddings(model, data):
    test = jess.pde.load_split(data, "test")
    return model.embed(test["u"][:, :model.crop_t], test["dx"], test["dt"])


def test_loaded_encoder_gives_the_cli_embeddings(tmp_path, pretrained, burgers_file):
    model = jess.models.load(pretrained)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert model.crop_t == 16 and model.equation == "burgers"
    ours = python_embeddings(model, burgers_file)
    theirs = cli_embeddings(pretrained, burgers_file, str(tmp_path / "z.npy"))
    assert ours.shape == theirs.shape == (16, model.output_dim)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_state_dict_holds_jess_names_and_round_trips_through_torch_save(tmp_path, pretrained):
    model = jess.models.load(pretrained)
    state = model.state_dict()
    assert "encoder.stage1.0.weight" in state and "projector.block2.0.weight" in state
    torch.save(state, tmp_path / "sd.pt")
    again = jess.models.load(pretrained)
    with torch.no_grad():
        for p in again.parameters():
            p.add_(1.0)
    again.load_state_dict(torch.load(tmp_path / "sd.pt"))
    for k, v in again.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_fine_tuned_in_python_then_read_by_the_cli(tmp_path, pretrained, burgers_file):
    model = jess.models.load(pretrained).train()
    views = jess.pde.ViewDataset(burgers_file, batch_size=8, seed=3, epochs=1, crop_t=16, crop_x=32)
    criterion = jess.ssl.loss("vicreg")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in views:
        z1 = model.projector(model(batch["view1"], batch["dx1"], batch["dt1"]))
        z2 = model.projector(model(batch["view2"], batch["dx2"], batch["dt2"]))
        loss, _ = criterion(z1, z2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    path = str(tmp_path / "tuned.pt")
    jess.models.save(model, path)
    ours = python_embeddings(model, burgers_file)
    before = cli_embeddings(pretrained, burgers_file, str(tmp_path / "before.npy"))
    after = cli_embeddings(path, burgers_file, str(tmp_path / "after.npy"))
    assert not torch.allclose(before, after)  # the weights changed ...
    torch.testing.assert_close(ours, after, rtol=1e-5, atol=1e-6)  # ... and the CLI sees Python's
    assert os.path.exists(path) and not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_a_file_that_is_not_a_checkpoint_is_a_value_error(tmp_path, pretrained):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable jess checkpoint"):
        jess.models.load(str(bad))
    with pytest.raises(OSError, match="cannot write"):
        jess.models.save(jess.models.load(pretrained), str(tmp_path / "missing" / "x.pt"))
