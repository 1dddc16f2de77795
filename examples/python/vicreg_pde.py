"""VICReg on jess's Lie point symmetry views of Burgers trajectories, in a plain PyTorch loop.

    jess pde generate --out burgers.h5 equation=burgers n_train=512   # or jess.pde.generate(path=...)
    PYTHONPATH=build/python /usr/bin/python3 examples/python/vicreg_pde.py burgers.h5
"""
import sys

import torch
from torch import nn

import jess

path = sys.argv[1] if len(sys.argv) > 1 else "burgers.h5"
torch.manual_seed(0)
views = jess.pde.ViewDataset(path, batch_size=32, seed=0, epochs=5, crop_t=64, crop_x=64)
train = jess.pde.load_split(path, "train")
u_mean, u_std = train["u"].mean().item(), train["u"].std().item()
ldx, ldt = train["dx"].log().mean().item(), train["dt"].log().mean().item()


def encode_input(u, dx, dt):  # the standardised view plus its (log) grid spacing, as channels of an image
    b, t, x = u.shape
    grid = torch.stack([dx.log() - ldx, dt.log() - ldt], 1).float().view(b, 2, 1, 1).expand(b, 2, t, x)
    return torch.cat([((u - u_mean) / u_std).unsqueeze(1), grid], 1)


encoder = jess.models.ConvNet2d(in_channels=3, width=16)
projector = jess.models.Projector(encoder.output_dim, [512, 512, 512])
params = list(encoder.parameters()) + list(projector.parameters())
opt = torch.optim.Adam(params, lr=2.5e-3)  # jess pde pretrain's defaults
criterion = jess.ssl.loss("vicreg")  # the C++ loss, differentiable in this graph

for step, batch in enumerate(views):
    z1 = projector(encoder(encode_input(batch["view1"], batch["dx1"], batch["dt1"])))
    z2 = projector(encoder(encode_input(batch["view2"], batch["dx2"], batch["dt2"])))
    loss, parts = criterion(z1, z2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0:
        print(f"epoch {batch['epoch']} step {step}: loss {loss.item():.3f} "
              + " ".join(f"{k} {v:.3f}" for k, v in parts.items()))

with torch.no_grad():
    encoder.eval()
    test = jess.pde.load_split(path, "test")
    h = encoder(encode_input(test["u"][:, :64], test["dx"], test["dt"]))
print(f"RankMe of the test representations: {jess.eval.rankme(h):.1f} of {h.shape[1]}")
