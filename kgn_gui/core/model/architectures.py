"""Model specs and builders.

The paper's network is an MLP: ``L`` hidden ReLU layers of width ``H``, then a Linear
layer back to the data dimension ``D`` and a bounded output (Sigmoid → (0, 1) or
Tanh → (−1, 1)). The bound is what makes over-generalization happen: outputs for unseen
inputs are squeezed toward the range seen in training.

The paper reports the effect "to various degrees" for CNNs, U-Nets and Transformers without
code or settings; these are ours, each with the same bounded output and a depth ``L``:

- ``cnn``: a convolutional autoencoder. ``L`` 3×3 ReLU conv layers, stride 2 while the image is
  at least 6 pixels on its short side (at most 4 halvings), channels H, 2H, 4H, 8H (then 8H);
  an optional fully connected bottleneck of ``bottleneck`` units; transposed-conv decoder mirroring
  the encoder back to the input size (odd sizes included).
- ``unet``: a U-Net with ``L`` levels below the top one. Each level halves the image (same rule),
  doubles the channels (from H, up to 8H) and has two 3×3 ReLU convs; the decoder upsamples with a
  transposed conv, concatenates the encoder's feature map of the same size (skip connection) and
  applies two more convs; a 1×1 conv gives the C output channels.
- ``transformer``: a ViT-style encoder. Non-overlapping P×P patches (``patch``; 0 picks the smallest
  P that divides the image into ≤ 64 patches, padding the edge if needed) are embedded linearly to
  width H with a learned position embedding; ``L`` pre-norm blocks of multi-head self-attention
  (``heads``; 0 picks H/32, at least 1) and a 4H GELU MLP; a final LayerNorm and a linear map back to
  the patch pixels (un-patchify).

Every model takes and returns flat (…, D) tensors, so chains, training and measures treat all
architectures alike; the image models reshape to (C, H, W) inside.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..data.dataset import IMAGE_CHANNELS
from ..errors import SpecError

BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
ARCHITECTURES = ("mlp", "cnn", "unet", "transformer")
IMAGE_ARCHITECTURES = ("cnn", "unet", "transformer")
# Starting values per architecture (depth L, width H, Adam learning rate) and what L and H mean for it.
# The learning rates are ones that train on MNIST here: the U-Net at 1e-3 sits at the data mean (every
# output −1) and does not leave it; the MLP's is the paper's.
ARCH_DEFAULTS = {
    "mlp": {"L": 10, "H": 500, "lr": 1e-4, "label": "MLP", "L_means": "hidden ReLU layers", "H_means": "hidden width"},
    "cnn": {
        "L": 3,
        "H": 32,
        "lr": 1e-3,
        "label": "CNN autoencoder",
        "L_means": "conv layers in the encoder (the decoder mirrors them)",
        "H_means": "channels of the first conv layer (doubling per layer, up to 8×)",
    },
    "unet": {
        "L": 3,
        "H": 16,
        "lr": 3e-4,
        "label": "U-Net",
        "L_means": "levels below the top one (each halves the image and doubles the channels)",
        "H_means": "channels at the top level (up to 8× below)",
    },
    "transformer": {
        "L": 4,
        "H": 64,
        "lr": 1e-3,
        "label": "Transformer",
        "L_means": "encoder blocks",
        "H_means": "embedding width (tokens are image patches)",
    },
}
MAX_HALVINGS = 4


@dataclass(frozen=True)
class ModelSpec:
    """Describes a kaleidoscopic network.

    D: data dimension (784 for MNIST). L: depth (≥ 1; hidden layers, conv layers, levels or blocks).
    H: width (hidden units, channels or embedding width). bound: "sigmoid" (range [0, 1]) or "tanh"
    (range [−1, 1]). arch: mlp, cnn, unet or transformer. shape: the data shape, (C, H, W) for images
    or (d,) for points; its product is D. bottleneck (cnn, 0 = none), patch and heads (transformer,
    0 = automatic) are ignored by the other architectures and must be 0 there.
    """

    D: int
    L: int = 10
    H: int = 500
    bound: str = "tanh"
    arch: str = "mlp"
    shape: tuple[int, ...] = field(default=())
    bottleneck: int = 0
    patch: int = 0
    heads: int = 0

    def __post_init__(self) -> None:
        if not self.shape:
            object.__setattr__(self, "shape", (int(self.D),))
        try:
            object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            raise SpecError(f"shape must be a list of integers, got {str(self.shape)[:80]}") from None
        self.validate()

    def validate(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise SpecError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.bound not in BOUNDS:
            raise SpecError(f"unknown bound {self.bound!r}; choose sigmoid or tanh")
        for name, lo, hi in (
            ("D", 1, 1 << 22),
            ("L", 1, 256),
            ("H", 1, 1 << 16),
            ("bottleneck", 0, 1 << 16),
            ("patch", 0, 1024),
            ("heads", 0, 1024),
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise SpecError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
        prod = 1
        for s in self.shape:
            if s < 1:
                raise SpecError(f"shape {self.shape} has a non-positive size")
            prod *= s
        if prod != self.D:
            raise SpecError(f"shape {self.shape} has {prod} values but D = {self.D}")
        if len(self.shape) == 3 and self.shape[0] not in IMAGE_CHANNELS:
            # (Data of such images is refused at import; a model file saying so is refused here, at load,
            # before any work: every picture of a sample is grey or RGB.)
            raise SpecError(
                f"images of {self.shape[0]} channels (shape {self.shape}) cannot be drawn: the pictures are 1 "
                "channel (grey) or 3 (RGB)"
            )
        if self.arch in IMAGE_ARCHITECTURES and len(self.shape) != 3:
            raise SpecError(
                f"the {ARCH_DEFAULTS[self.arch]['label']} needs images (C×H×W data); "
                f"this data has shape {self.shape}: use the MLP"
            )
        if self.bottleneck and self.arch != "cnn":
            raise SpecError("a bottleneck width applies to the CNN autoencoder only")
        if (self.patch or self.heads) and self.arch != "transformer":
            raise SpecError("patch size and heads apply to the Transformer only")
        if self.arch == "transformer":
            if self.heads and self.H % self.heads:
                raise SpecError(f"the embedding width H = {self.H} must be a multiple of heads = {self.heads}")
            if self.patch and self.patch > max(self.shape[1:]):
                raise SpecError(f"patch size {self.patch} is larger than the {self.shape[1]}×{self.shape[2]} image")

    @property
    def value_range(self) -> tuple[float, float]:
        return BOUNDS[self.bound]

    @property
    def effective_patch(self) -> int:
        """The Transformer's patch side: ``patch`` or the smallest side giving ≤ 64 patches."""
        if self.patch:
            return self.patch
        _, h, w = self.shape
        p = 1
        while math.ceil(h / p) * math.ceil(w / p) > 64:
            p += 1
        return p

    @property
    def effective_heads(self) -> int:
        if self.heads:
            return self.heads
        for n in range(max(1, self.H // 32), 0, -1):
            if self.H % n == 0:
                return n
        return 1

    def describe(self) -> str:
        """One line for people: architecture, depth, width and the options that apply."""
        a = ARCH_DEFAULTS[self.arch]["label"]
        extra = ""
        if self.arch == "cnn" and self.bottleneck:
            extra = f", bottleneck {self.bottleneck}"
        elif self.arch == "transformer":
            extra = f", {self.effective_patch}×{self.effective_patch} patches, {self.effective_heads} heads"
        return f"{a} L={self.L} H={self.H} {self.bound}{extra}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        if not isinstance(d, dict):
            raise SpecError("model spec must be a JSON object")
        known = {"D", "L", "H", "bound", "arch", "shape", "bottleneck", "patch", "heads"}
        extra = set(d) - known
        if extra:
            raise SpecError(f"model spec has unknown fields: {', '.join(sorted(extra))}")
        try:
            return cls(
                D=d["D"],
                L=d.get("L", 10),
                H=d.get("H", 500),
                bound=d.get("bound", "tanh"),
                arch=d.get("arch", "mlp"),
                shape=tuple(d.get("shape") or ()),
                bottleneck=d.get("bottleneck", 0),
                patch=d.get("patch", 0),
                heads=d.get("heads", 0),
            )
        except KeyError as e:
            raise SpecError(f"model spec lacks field {e}") from None
        except (TypeError, ValueError) as e:
            if isinstance(e, SpecError):
                raise
            raise SpecError(f"model spec is malformed: {e}") from None


def paper_mnist_spec() -> ModelSpec:
    """The paper's MNIST network: 784 → 500, 9 × (500 → 500), 500 → 784, Tanh; 3,039,784 weights."""
    return ModelSpec(D=784, L=10, H=500, bound="tanh", shape=(1, 28, 28))


def _bound(spec: ModelSpec) -> nn.Module:
    return nn.Sigmoid() if spec.bound == "sigmoid" else nn.Tanh()


def _halving_plan(h: int, w: int, levels: int) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """(stride, size in, size out) for each of ``levels`` 3×3 convs with padding 1: stride 2 while the
    short side is ≥ 6 and fewer than MAX_HALVINGS halvings were made, else stride 1."""
    plan, halvings = [], 0
    for _ in range(levels):
        s = 2 if min(h, w) >= 6 and halvings < MAX_HALVINGS else 1
        oh, ow = (-(-h // 2), -(-w // 2)) if s == 2 else (h, w)
        plan.append((s, (h, w), (oh, ow)))
        halvings += s == 2
        h, w = oh, ow
    return plan


def _up(cin: int, cout: int, stride: int, size_in: tuple[int, int]) -> nn.Module:
    """The transposed conv that undoes a 3×3 conv of this stride, back to exactly ``size_in``
    (output_padding 1 for an even side, 0 for an odd one)."""
    if stride == 1:
        return nn.ConvTranspose2d(cin, cout, 3, 1, 1)
    op = tuple(1 - n % 2 for n in size_in)
    return nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=op)


def _channels(H: int, k: int) -> int:
    return H * 2 ** min(k, 3)


def _he_init(model: nn.Module) -> None:
    """He (Kaiming) initialization of every conv and linear layer: with PyTorch's default the signal
    shrinks ~40% per ReLU layer and the autoencoders sit for hundreds of steps at the data mean."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif isinstance(m, nn.ConvTranspose2d):
            # weight is (in, out, k, k): fan_out counts in·k·k, the inputs feeding one output; a stride-s
            # transposed conv uses 1/s² of the taps at each output pixel.
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            m.weight.data.mul_(m.stride[0])
        else:
            continue
        nn.init.zeros_(m.bias)


class _FlatImageModel(nn.Module):
    """Flat (…, D) in and out; ``body`` works on (N, C, H, W)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = self.body(x.reshape((-1,) + self.spec.shape))
        return y.reshape(lead + (self.spec.D,))

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError


class KaleidoscopeMLP(nn.Module):
    """f(x) = bound(W_{L+1} relu(… relu(W_1 x + b_1) …) + b_{L+1})."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        widths = [spec.D] + [spec.H] * spec.L
        layers: list[nn.Module] = []
        for i in range(spec.L):
            # In-place ReLU: one less activation-sized buffer per layer (~8% faster training on CPU).
            layers += [nn.Linear(widths[i], widths[i + 1]), nn.ReLU(inplace=True)]
        layers += [nn.Linear(spec.H, spec.D), _bound(spec)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvAutoencoder(_FlatImageModel):
    """Strided conv encoder → optional fully connected bottleneck → transposed-conv decoder → bound."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        C, h, w = spec.shape
        plan = _halving_plan(h, w, spec.L)
        chans = [C] + [_channels(spec.H, k) for k in range(spec.L)]
        enc: list[nn.Module] = []
        for k, (s, _, _) in enumerate(plan):
            enc += [nn.Conv2d(chans[k], chans[k + 1], 3, s, 1), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*enc)
        oh, ow = plan[-1][2]
        if spec.bottleneck:
            n = chans[-1] * oh * ow
            self.bottleneck = nn.Sequential(
                nn.Flatten(),
                nn.Linear(n, spec.bottleneck),
                nn.ReLU(inplace=True),
                nn.Linear(spec.bottleneck, n),
                nn.ReLU(inplace=True),
                nn.Unflatten(1, (chans[-1], oh, ow)),
            )
        else:
            self.bottleneck = nn.Identity()
        dec: list[nn.Module] = []
        for k in reversed(range(spec.L)):
            s, size_in, _ = plan[k]
            dec += [_up(chans[k + 1], chans[k], s, size_in), nn.ReLU(inplace=True) if k else _bound(spec)]
        self.decoder = nn.Sequential(*dec)
        _he_init(self)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.bottleneck(self.encoder(x)))


def _double_conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, 1, 1), nn.ReLU(inplace=True)
    )


class UNet(_FlatImageModel):
    """Two convs at full size, then L levels down (strided conv + conv), and back up with skip
    connections (transposed conv, concatenate the encoder's map, two convs); 1×1 conv → bound."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        C, h, w = spec.shape
        plan = _halving_plan(h, w, spec.L)
        chans = [_channels(spec.H, k) for k in range(spec.L + 1)]
        self.top = _double_conv(C, chans[0])
        self.down = nn.ModuleList(_double_conv(chans[k], chans[k + 1], plan[k][0]) for k in range(spec.L))
        self.up = nn.ModuleList(_up(chans[k + 1], chans[k], plan[k][0], plan[k][1]) for k in range(spec.L))
        self.merge = nn.ModuleList(_double_conv(2 * chans[k], chans[k]) for k in range(spec.L))
        self.out = nn.Sequential(nn.Conv2d(chans[0], C, 1), _bound(spec))
        _he_init(self)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.top(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        y = skips.pop()
        for k in reversed(range(self.spec.L)):
            y = self.merge[k](torch.cat([F.relu(self.up[k](y)), skips.pop()], dim=1))
        return self.out(y)


class _Block(nn.Module):
    """Pre-norm Transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)). Plain tensor ops (no fused
    fast path), so torch.func can take Jacobians through it."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # Written out rather than F.scaled_dot_product_attention: its CPU backward has no vmap batching
        # rule, which made exact Jacobians (torch.func.jacrev) of a Transformer loop over every output.
        a = torch.softmax(q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5), dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.norm2(x))


class PatchTransformer(_FlatImageModel):
    """Patches → linear embedding + position → L blocks → LayerNorm → linear un-patchify → bound."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        C, h, w = spec.shape
        p = self.p = spec.effective_patch
        self.gh, self.gw = -(-h // p), -(-w // p)
        d = spec.H
        self.embed = nn.Linear(C * p * p, d)
        self.pos = nn.Parameter(torch.randn(1, self.gh * self.gw, d) * 0.02)
        self.blocks = nn.Sequential(*(_Block(d, spec.effective_heads) for _ in range(spec.L)))
        self.norm = nn.LayerNorm(d)
        self.unembed = nn.Linear(d, C * p * p)
        self.bound = _bound(spec)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        n, C, h, w = x.shape
        p, gh, gw = self.p, self.gh, self.gw
        x = F.pad(x, (0, gw * p - w, 0, gh * p - h))
        t = x.reshape(n, C, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, C * p * p)
        t = self.unembed(self.norm(self.blocks(self.embed(t) + self.pos)))
        y = t.reshape(n, gh, gw, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(n, C, gh * p, gw * p)
        return self.bound(y[:, :, :h, :w])


_BUILDERS = {"mlp": KaleidoscopeMLP, "cnn": ConvAutoencoder, "unet": UNet, "transformer": PatchTransformer}


def build_model(spec: ModelSpec, seed: int | None = None) -> nn.Module:
    """Build the network for ``spec``; with ``seed`` the initial weights are reproducible."""
    cls = _BUILDERS[spec.arch]
    if seed is None:
        return cls(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return cls(spec)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def spec_parameter_count(spec: ModelSpec) -> int:
    """Parameter count without allocating weights. For the MLP: (D+1)H + (L−1)(H+1)H + (H+1)D; for the
    others the model is built on the meta device (shapes only) and counted."""
    if spec.arch == "mlp":
        return (spec.D + 1) * spec.H + (spec.L - 1) * (spec.H + 1) * spec.H + (spec.H + 1) * spec.D
    with torch.device("meta"):
        return count_parameters(build_model(spec))
