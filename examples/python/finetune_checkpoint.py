"""A `jess pde pretrain` checkpoint fine-tuned in Python, then handed back to the CLI.

    jess pde pretrain burgers.h5 --out runs/b0
    PYTHONPATH=build/python /usr/bin/python3 examples/python/finetune_checkpoint.py runs/b0/checkpoint.pt burgers.h5
    jess pde regress burgers.h5 -c runs/b0/finetuned.pt   # the CLI evaluates the Python-tuned weights
"""
import os
import sys

import torch

import jess

checkpoint, data = sys.argv[1], sys.argv[2]
model = jess.models.load(checkpoint).train()   # a torch.nn.Module with jess's weights
views = jess.pde.ViewDataset(data, batch_size=32, seed=1, epochs=2, crop_t=model.crop_t)
criterion = jess.ssl.loss("vicreg")
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
for batch in views:
    z1 = model.projector(model(batch["view1"], batch["dx1"], batch["dt1"]))
    z2 = model.projector(model(batch["view2"], batch["dx2"], batch["dt2"]))
    loss, _ = criterion(z1, z2)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"last loss {loss.item():.3f}")
out = os.path.join(os.path.dirname(checkpoint), "finetuned.pt")
jess.models.save(model.eval(), out)
print(f"wrote {out}: `jess pde regress {data} -c {out}` evaluates it")
