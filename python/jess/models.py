"""jess encoders as plain ``torch.nn.Module``s: load a jess checkpoint (PDE pretraining or image SSL), call
it, fine-tune it, save it with torch, or write it back as a jess checkpoint that the CLI reads.

The networks are written here in PyTorch with jess's parameter names (torchvision's for ResNet-18), so
a jess state dict loads with ``load_state_dict(strict=True)``; tests check that they give the same
embeddings as jess's C++ encoders.
"""
from typing import Dict, List

import torch
from torch import nn

from . import _jess


class BasicBlock1d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, kernel: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.down_conv = self.down_bn = None
        if stride != 1 or cin != cout:
            self.down_conv = nn.Conv1d(cin, cout, 1, stride=stride, bias=False)
            self.down_bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.down_bn(self.down_conv(x)) if self.down_conv is not None else x))


class ResNet1d(nn.Module):
    """jess's compact 1-D ResNet (time steps as channels over x): stem, stages of width w, 2w, 4w, 4w,
    global average pooling."""

    def __init__(self, in_channels: int, width: int = 32, stages: int = 4, blocks_per_stage: int = 1,
                 stem_kernel: int = 5, kernel: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv1d(in_channels, width, stem_kernel, stride=2, padding=stem_kernel // 2, bias=False)
        self.stem_bn = nn.BatchNorm1d(width)
        cin = width
        self.stage_names: List[str] = []
        for s in range(stages):
            cout = width * (1 << min(s, 2))
            blocks = []
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock1d(cin, cout, 2 if (b == 0 and s > 0) else 1, kernel))
                cin = cout
            self.add_module(f"stage{s + 1}", nn.Sequential(*blocks))
            self.stage_names.append(f"stage{s + 1}")
        self.output_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem_bn(self.stem(x)))
        for name in self.stage_names:
            h = getattr(self, name)(h)
        return h.mean(-1)


class BasicBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down_conv = self.down_bn = None
        if stride != 1 or cin != cout:
            self.down_conv = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.down_bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.down_bn(self.down_conv(x)) if self.down_conv is not None else x))


class ConvNet2d(nn.Module):
    """jess's small 2-D CNN over (t, x): per stage a stride-2 convolution, BN, ReLU and a residual
    block; widths w, 2w, 4w; global average pooling."""

    def __init__(self, in_channels: int, width: int = 32, stages: int = 3) -> None:
        super().__init__()
        cin, w = in_channels, width
        self.stage_names: List[str] = []
        for s in range(stages):
            self.add_module(f"stage{s + 1}", nn.Sequential(
                nn.Conv2d(cin, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                BasicBlock2d(w, w, 1)))
            self.stage_names.append(f"stage{s + 1}")
            cin = w
            if s + 1 < min(stages, 3):
                w *= 2
        self.output_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for name in self.stage_names:
            h = getattr(self, name)(h)
        return h.mean((-2, -1))


class ResNet18(nn.Module):
    """ResNet-18 in torchvision's layout (ImageNet stem, or the CIFAR 3x3 stem without max-pool); with
    stages=3, blocks=1 jess's resnet_small (widths w, 2w, 4w, one BasicBlock each)."""

    def __init__(self, in_channels: int = 3, width: int = 64, cifar_stem: bool = False, stages: int = 4,
                 blocks: int = 2) -> None:
        super().__init__()
        self.cifar_stem = cifar_stem
        self.conv1 = (nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False) if cifar_stem
                      else nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False))
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        self.stages = stages
        for s, w in enumerate([width, 2 * width, 4 * width, 8 * width][:stages]):
            layer = [BasicBlock2d(cin, w, 1 if s == 0 else 2)] + [BasicBlock2d(w, w, 1) for _ in range(blocks - 1)]
            self.add_module(f"layer{s + 1}", nn.Sequential(*layer))
            cin = w
        self.output_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        if not self.cifar_stem:
            h = nn.functional.max_pool2d(h, 3, stride=2, padding=1)
        for s in range(self.stages):
            h = getattr(self, f"layer{s + 1}")(h)
        return h.mean((-2, -1))


class Projector(nn.Module):
    """Linear-BN-ReLU blocks and a final Linear without bias (jess's and VICReg's projector)."""

    def __init__(self, input_dim: int, sizes: List[int]) -> None:
        super().__init__()
        cin = input_dim
        self.block_names: List[str] = []
        for i, size in enumerate(sizes):
            last = i + 1 == len(sizes)
            layers = [nn.Linear(cin, size, bias=not last)]
            if not last:
                layers += [nn.BatchNorm1d(size), nn.ReLU()]
            self.add_module(f"block{i + 1}", nn.Sequential(*layers))
            self.block_names.append(f"block{i + 1}")
            cin = size
        self.output_dim = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.block_names:
            x = getattr(self, name)(x)
        return x


def _layer_sizes(text: str) -> List[int]:
    return [] if text in ("", "none") else [int(p) for p in text.split("-")]


def _encoder(arch: str, in_channels: int, width: int, blocks: int) -> nn.Module:
    if arch == "resnet1d":
        return ResNet1d(in_channels, width, blocks_per_stage=blocks)
    if arch == "cnn2d":
        return ConvNet2d(in_channels, width)
    if arch == "resnet18":
        return ResNet18(in_channels)
    if arch == "resnet18_cifar":
        return ResNet18(in_channels, width, cifar_stem=True)
    if arch == "resnet_small":
        return ResNet18(in_channels, width, cifar_stem=True, stages=3, blocks=1)
    raise ValueError(f"unknown encoder architecture '{arch}' (resnet1d, cnn2d, resnet18, resnet18_cifar, resnet_small)")


class PdeEncoder(nn.Module):
    """A ``jess pde pretrain`` model: ``forward(u, dx, dt)`` standardises the window (B, t, x) with the
    checkpoint's statistics, adds the log dx, log dt channels, and returns the encoder's (B, D)
    representation, as ``jess pde embed`` and jess's frozen encoder do (resnet1d reads the last crop_t
    time steps). ``.encoder`` and ``.projector`` are the bare networks; ``.config`` the resolved keys.
    """

    def __init__(self, config: Dict[str, str], input_stats: torch.Tensor) -> None:
        super().__init__()
        self.config = dict(config)
        self.arch = config["encoder.arch"]
        self.crop_t = int(config["augment.crop_t"])
        self.equation = config["equation"]
        in_channels = self.crop_t + 2 if self.arch == "resnet1d" else 3
        self.encoder = _encoder(self.arch, in_channels, int(config["encoder.width"]), int(config["encoder.blocks"]))
        self.projector = Projector(self.encoder.output_dim, _layer_sizes(config["projector"]))
        self.register_buffer("input_stats", input_stats.detach().to(torch.float64).reshape(6).clone())

    @property
    def output_dim(self) -> int:
        return self.encoder.output_dim

    def encoder_input(self, u: torch.Tensor, dx: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        if u.dim() != 3:
            raise ValueError("u must be a (B, t, x) batch of windows")
        if self.arch == "resnet1d":
            if u.shape[1] < self.crop_t:
                raise ValueError(f"the encoder was pretrained on crops of {self.crop_t} time steps, "
                                 f"but the window has {u.shape[1]}")
            u = u[:, u.shape[1] - self.crop_t:]
        s = [float(v) for v in self.input_stats]
        B, ct, cx = u.shape
        dev = self.input_stats.device
        z = (u.to(dev, torch.float32) - s[0]) / s[1]
        dx = torch.as_tensor(dx, dtype=torch.float64, device=dev).reshape(-1).expand(B)
        dt = torch.as_tensor(dt, dtype=torch.float64, device=dev).reshape(-1).expand(B)
        ldx = ((dx.log() - s[2]) / s[3]).to(torch.float32)
        ldt = ((dt.log() - s[4]) / s[5]).to(torch.float32)
        if self.arch == "resnet1d":
            return torch.cat([z, ldx.view(B, 1, 1).expand(B, 1, cx), ldt.view(B, 1, 1).expand(B, 1, cx)], 1)
        return torch.cat([z.unsqueeze(1), ldx.view(B, 1, 1, 1).expand(B, 1, ct, cx),
                          ldt.view(B, 1, 1, 1).expand(B, 1, ct, cx)], 1)

    def forward(self, u: torch.Tensor, dx: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.encoder_input(u, dx, dt))

    def embed(self, u: torch.Tensor, dx: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """``forward`` in evaluation mode without gradients (the frozen features)."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(u, dx, dt)
        finally:
            self.train(was)


def _jess_state(module: nn.Module) -> Dict[str, torch.Tensor]:
    """The module's parameters and buffers under jess's names (BN's num_batches_tracked kept), with the
    checkpoint's parts it carries unchanged."""
    state = {k: v for k, v in module.state_dict().items() if k != "input_stats"}
    state.update(getattr(module, "carried", {}))
    return state


class ImageEncoder(nn.Module):
    """A ``jess train`` (image SSL or supervised) model: ``forward(images)`` takes (B, C, H, W) floats in
    [0, 1], standardises them with the run's statistics and returns the backbone's (B, D) features, as
    ``jess vision eval`` and ``jess robustness eval`` see them. ``.backbone``, ``.projector`` and
    ``.probe`` (the online linear probe; a supervised model's own head) are the bare networks;
    ``classify(images)`` gives the probe's classes. Other trained parts of the checkpoint (a BYOL
    teacher, a predictor) are kept as tensors in ``.carried`` and written back by ``save``.
    """

    def __init__(self, config: Dict[str, str], state: Dict[str, torch.Tensor], input_stats: torch.Tensor) -> None:
        super().__init__()
        self.config = dict(config)
        self.method = config["method"]
        arch = config["backbone"]
        first = state.get("backbone.conv1.weight", state.get("backbone.stage1.0.weight"))
        if first is None:
            raise ValueError(f"unsupported image backbone '{arch}' in the checkpoint")
        channels = int(first.shape[1])
        self.backbone = _encoder(arch, channels, int(config["width"]), 1)
        self.projector = Projector(self.backbone.output_dim, _layer_sizes(config["projector"]))
        probe = state["probe.weight"]
        self.probe = nn.Linear(int(probe.shape[1]), int(probe.shape[0]))
        self.register_buffer("input_stats", input_stats.detach().to(torch.float64).reshape(2).clone())
        self.carried = {k: v.clone() for k, v in state.items() if k.split(".")[0] not in ("backbone", "projector", "probe")}
        self.channels = channels

    @property
    def output_dim(self) -> int:
        return self.backbone.output_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise ValueError(f"images must be (B, {self.channels}, H, W) floats in [0, 1]")
        mean, sd = (float(v) for v in self.input_stats)
        return self.backbone((images.to(self.input_stats.device, torch.float32) - mean) / sd)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        return self.probe(self(images)).argmax(1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``forward`` in evaluation mode without gradients (the frozen features)."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(images)
        finally:
            self.train(was)


def load(checkpoint: str) -> nn.Module:
    """A jess checkpoint as a ``torch.nn.Module`` in evaluation mode: ``PdeEncoder`` for ``jess pde
    pretrain`` runs, ``ImageEncoder`` for ``jess train`` runs. Raises ValueError for other files."""
    c = _jess.read_checkpoint(checkpoint)
    stats = c["extra"].get("input_stats")
    if stats is None:
        raise ValueError(f"{checkpoint}: no input_stats in the checkpoint (not a `jess pde pretrain` or `jess train` "
                         "run; equivariance and time-stepping checkpoints are not loadable from Python yet)")
    if any(k.startswith("backbone.") for k in c["model"]):
        model = ImageEncoder(_jess.vision_config(c["config"], checkpoint), c["model"], stats)
    else:
        model = PdeEncoder(_jess.pde_pretrain_config(c["config"], checkpoint), stats)
    expected = set(_jess_state(model))
    missing = expected - set(c["model"])
    unexpected = set(c["model"]) - expected
    if missing or unexpected:
        raise ValueError(f"{checkpoint}: the checkpoint does not match its configuration's network "
                         f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    own = {k: v for k, v in c["model"].items() if k in model.state_dict()}
    model.load_state_dict(dict(own, input_stats=model.input_stats), strict=True)
    model._stored_config = c["config"]  # written back by save()
    return model.eval()


def save(model: nn.Module, path: str) -> None:
    """Writes ``model`` (from ``load``, then trained or changed in Python) as a jess checkpoint, atomically,
    with the configuration it was loaded with, so the CLI (``jess pde regress | embed``, ``jess vision
    eval``, ``jess robustness eval``) reads the Python-trained weights. The file has no optimiser state:
    it evaluates, it does not resume training."""
    stored = getattr(model, "_stored_config", None)
    if stored is None:
        raise ValueError("save() writes models that came from jess.models.load (their configuration travels with them)")
    _jess.write_checkpoint(path, {k: v.detach().cpu() for k, v in _jess_state(model).items()}, stored,
                           {"input_stats": model.input_stats.detach().cpu()})
