#!/usr/bin/env python
"""Time ``hcflow_lite`` and, side by side, the official HCFlow code (book appendix *Performance*).

Usage (from the repository root)::

    python ci/benchmark.py --official ~/HCFlow --out book/_data/benchmark_cpu.json   # CPU, 2 threads
    python ci/benchmark.py --device cuda --batch 16 --size 160 --official ~/HCFlow --quick
    python ci/benchmark.py --markdown book/_data/benchmark_cpu.json                  # → the book's table

``--official PATH`` is a checkout of github.com/JingyunLiang/HCFlow (its root or its ``codes``
folder).  Its network classes are built directly on the chosen device (its scripts hard-code
``.cuda()``), with small import shims kept in this file, and given the *same* weights as ours
through :func:`hcflow_lite.export_official`; before timing, both are run once on the same input
and their outputs compared.

What is timed, per network (``hcflow`` = SR ×4 HCFlow, ``hcflow+`` = SR ×4 HCFlow+,
``rescaling`` = rescaling ×4, ``face`` = face SR ×8; all paper size unless ``--model-size``):

* ``forward``: HR → (LR, NLL) (rescaling: HR → (LR, latents)), eval mode, ``torch.no_grad``.
* ``reverse``: LR → one SR per LR image at the network's temperature τ (0.9, face 0.8,
  rescaling 1.0), eval mode, ``torch.no_grad``.
* ``sample``: LR → ``--samples`` SR per LR image at τ.  Ours: ``model.sample(lr, n, τ)``;
  official: ``n`` reverse calls, as its ``test()`` draws its samples.
* ``train``: one training iteration, train mode, ActNorms already initialised, Adam
  (β = 0.9, 0.99) at the paper's learning rate, identical code for both implementations
  (:func:`train_iteration`) except the optimiser each one's training builds: ours
  :func:`hcflow_lite.train.steps.adam` (PyTorch's fused Adam), the official ``torch.optim.Adam``
  with its defaults (on a CPU a loop over the tensors):

  - HCFlow: ``zero_grad``, NLL forward (spec §7.1, weight 1), backward, clip every gradient
    to ±5 then the global norm to 100, Adam step;
  - HCFlow+: the same with NLL weight 2e-3, then ``zero_grad``, reverse at τ = 0 from the
    dataset LR, L1 to the HR (weight 1), backward, clip, a second Adam step;
  - rescaling (spec §7.2): ``zero_grad``, forward, ``0.05·MSE(LR, LR*) + 1e-5·mean(ε²)``,
    reverse at τ = 1 from the quantised LR, ``+ L1(SR, HR)``, backward, clip, Adam step.

  The official wrapper's NaN guards and ``.item()`` logging are left out of both.

Every configuration runs ``--warmup`` untimed then ``--repeats`` timed repetitions, the
implementations interleaved (their order rotating) so that they share the machine's noise; the
JSON keeps every time, the median, quartiles and the paired ratios per repetition.  FLOPs are
counted once per path with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and
matrix products; a training iteration counts forward and backward).  Peak memory is measured
in a fresh process per implementation, network, path and dtype: peak RSS while running the path
(``VmHWM`` reset after set-up; CPU; glibc's mmap threshold fixed at 128 KiB, see
:func:`run_worker`), or ``torch.cuda.max_memory_allocated`` (CUDA).
A ``machine`` entry records this machine's 3×3-convolution rate in float32 and bfloat16, to
read the achieved FLOP/s against.  ``--dtypes float32,bfloat16`` times ours in float32 and
under ``torch.autocast(device, torch.bfloat16)``; the official code always runs in float32.

Never call this from tests: performance is measured by this script only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import io
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "@@benchmark-result "
PATHS = ("forward", "reverse", "sample", "train")
OFFICIAL = "official/float32"


@dataclass(frozen=True)
class Variant:
    """One network of the paper and its training recipe (spec §7)."""

    name: str
    label: str
    model: str  #: hcflow_lite config name (paper size)
    paths: tuple[str, ...]
    temperature: float  #: τ of the reverse / sample paths
    learning_rate: float
    nll_weight: float = 1.0
    hr_l1_weight: float = 0.0  #: HCFlow+: weight of L1(reverse(LR, τ=0), HR), a second Adam step


VARIANTS = {
    "hcflow": Variant("hcflow", "SR ×4 HCFlow", "sr_x4", PATHS, 0.9, 2.5e-4),
    "hcflow+": Variant("hcflow+", "SR ×4 HCFlow+", "sr_x4", ("train",), 0.9, 5e-5, nll_weight=2e-3, hr_l1_weight=1.0),
    "rescaling": Variant("rescaling", "rescaling ×4", "rescale_x4", PATHS, 1.0, 2.5e-4),
    "face": Variant("face", "face SR ×8", "face_x8", PATHS, 0.8, 2.5e-4),
}


# ----------------------------------------------------------------------------- the official code
def _opt_get(opt: Any, keys: list[str], default: Any = None) -> Any:
    """Nested lookup in an option dict; ``default`` when a key is missing or ``None``."""
    for key in keys:
        if not isinstance(opt, dict) or opt.get(key) is None:
            return default
        opt = opt[key]
    return opt


def _not_needed(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("this helper of the official utils module is not used by the benchmarked networks")


def official_codes_dir(path: str | Path) -> Path:
    """The official checkout's ``codes`` folder (``path`` may be the checkout or ``codes``)."""
    p = Path(path).expanduser().resolve()
    for cand in (p / "codes", p):
        if (cand / "models" / "modules" / "HCFlowNet_SR_arch.py").is_file():
            return cand
    raise FileNotFoundError(
        f"{p} is not a checkout of the official HCFlow code (github.com/JingyunLiang/HCFlow): "
        "expected codes/models/modules/HCFlowNet_SR_arch.py in it"
    )


def import_official(path: str | Path) -> dict[str, type]:
    """Import the official network classes from the user's checkout (read-only).

    Its ``utils/util.py`` imports OpenCV, natsort and more for its training scripts; the
    networks only need ``opt_get`` from it, so a stand-in module provides that.
    """
    codes = official_codes_dir(path)
    shim = types.ModuleType("utils.util")
    shim.opt_get = _opt_get  # type: ignore[attr-defined]
    shim.register_hook = _not_needed  # type: ignore[attr-defined]
    shim.trunc_normal_ = _not_needed  # type: ignore[attr-defined]
    pkg = types.ModuleType("utils")
    pkg.__path__ = []  # type: ignore[attr-defined]
    pkg.util = shim  # type: ignore[attr-defined]
    sys.modules["utils"], sys.modules["utils.util"] = pkg, shim
    sys.path.insert(0, str(codes))
    sr = importlib.import_module("models.modules.HCFlowNet_SR_arch")
    rescaling = importlib.import_module("models.modules.HCFlowNet_Rescaling_arch")
    return {"sr": sr.HCFlowNet_SR, "rescaling": rescaling.HCFlowNet_Rescaling}


def official_options(config: Any, size: int) -> dict[str, Any]:
    """The official option dict of an :class:`~hcflow_lite.HCFlowConfig` (inverse of
    :func:`hcflow_lite.models.config_from_official_options`)."""
    sr = config.task == "sr"
    total = [k + p for k, p in zip(config.K, config.P)]
    fd = {
        "K": total[0] if len(set(total)) == 1 else total,
        "L": config.L,
        "flow_permutation": "invconv" if sr else "none",
        "flow_coupling": "Affine" if sr else "Affine3shift",
        "nn_module": "FCN" if sr else "DenseBlock",
        "hidden_channels": config.hidden_channels,
        "cond_channels": None,
        "splitOff": {
            "enable": True,
            "after_flowstep": list(config.P),
            "flow_permutation": "invconv",
            "flow_coupling": "Affine",
            "nn_module": "FCN",
            "nn_module_last": "Conv2dZeros",
            "hidden_channels": config.cond_hidden_channels,
            "RRDB_nb": list(config.rrdb_nb),
            "RRDB_nf": config.rrdb_nf,
            "RRDB_gc": config.rrdb_gc,
        },
    }
    if not sr:
        fd["squeeze"] = "haar"
    opt = {
        "model": "HCFlow_SR" if sr else "HCFlow_Rescaling",
        "scale": config.scale,
        "datasets": {"train": {"GT_size": size}},
        "network_G": {
            "which_model_G": "HCFlowNet_SR" if sr else "HCFlowNet_Rescaling",
            "in_nc": config.in_channels,
            "out_nc": config.in_channels,
            "act_norm_start_step": 100,
            "scale": config.scale,
            "flowDownsampler": fd,
        },
    }
    if sr:
        opt["quant"] = config.quant
    return opt


def build_official(classes: dict[str, type], config: Any, state: dict[str, Any], size: int, device: Any) -> Any:
    """The official network with the weights ``state`` (official keys, strict load), ActNorms initialised."""
    cls = classes[config.task]
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its layer shapes
        net = cls(official_options(config, size))
    net.load_state_dict(state, strict=True)
    for m in net.modules():
        if hasattr(m, "inited"):  # its ActNorms: data-dependent init already done (our weights)
            m.inited = True
    return net.to(device)


# ----------------------------------------------------------------------------- implementations
class Ours:
    """``hcflow_lite`` behind the calls the benchmark makes (autocast for bfloat16)."""

    def __init__(self, model: Any, dtype: str, device: Any) -> None:
        self.model, self.dtype, self.device = model, dtype, device
        self.key = f"ours/{dtype}"
        self.sr = model.config.task == "sr"

    def autocast(self) -> contextlib.AbstractContextManager:
        import torch

        if self.dtype == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def module(self) -> Any:
        return self.model

    def forward(self, hr: Any, lr: Any) -> dict[str, Any]:
        r = self.model.encode(hr, lr) if self.sr else self.model.encode(hr)
        return {"lr": r.lr, "nll": r.nll, "eps": r.eps}

    def nll(self, hr: Any, lr: Any) -> Any:
        return self.model.encode(hr, lr).nll

    def rescale_forward(self, hr: Any) -> tuple[Any, list[Any]]:
        r = self.model.encode(hr)
        return r.lr, r.eps

    def reverse(self, lr: Any, temperature: float) -> Any:
        return self.model.decode(lr, temperature)

    def sample(self, lr: Any, n: int, temperature: float) -> Any:
        return self.model.sample(lr, n, temperature)


class Official(Ours):
    """The official network behind the same calls (always float32)."""

    def __init__(self, net: Any, sr: bool, device: Any) -> None:
        self.net, self.sr, self.device, self.dtype = net, sr, device, "float32"
        self.key = OFFICIAL

    def module(self) -> Any:
        return self.net

    def forward(self, hr: Any, lr: Any) -> dict[str, Any]:
        if self.sr:
            y, nll = self.net(hr=hr, lr=lr, reverse=False, training=self.net.training)
            return {"lr": y, "nll": nll, "eps": None}
        y, z1, z2 = self.net(hr=hr, reverse=False, training=self.net.training)
        return {"lr": y, "nll": None, "eps": [z1, z2]}

    def nll(self, hr: Any, lr: Any) -> Any:
        return self.net(hr=hr, lr=lr, reverse=False, training=self.net.training)[1]

    def rescale_forward(self, hr: Any) -> tuple[Any, list[Any]]:
        y, z1, z2 = self.net(hr=hr, reverse=False, training=self.net.training)
        return y, [z1, z2]

    def reverse(self, lr: Any, temperature: float) -> Any:
        return self.net(lr=lr, eps_std=temperature, reverse=True, training=self.net.training)

    def sample(self, lr: Any, n: int, temperature: float) -> Any:
        # as the official test(): one whole reverse pass per sample
        return [self.reverse(lr, temperature) for _ in range(n)]


def train_iteration(impl: Ours, optimizer: Any, params: list[Any], hr: Any, lr: Any, variant: Variant) -> None:
    """One training iteration, the same code for both implementations (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    from hcflow_lite.models import quantize

    def step(loss: Any) -> None:
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 5.0)  # max_grad_clip
        torch.nn.utils.clip_grad_norm_(params, 100.0)  # max_grad_norm
        optimizer.step()

    optimizer.zero_grad(set_to_none=True)
    if not impl.sr:  # rescaling, spec §7.2: one combined loss
        with impl.autocast():
            lr_c, eps = impl.rescale_forward(hr)
            loss_lr = 0.05 * F.mse_loss(lr_c, lr)
            loss_z = 1e-5 * torch.cat([e.flatten() for e in eps]).square().mean()
            sr = impl.reverse(quantize(lr_c), variant.temperature)
            loss = loss_lr + loss_z + F.l1_loss(sr, hr)
        step(loss)
        return
    with impl.autocast():  # SR, spec §7.1: the NLL step ...
        loss = variant.nll_weight * impl.nll(hr, lr)
    step(loss)
    if variant.hr_l1_weight:  # ... and HCFlow+'s HR L1 step at τ = 0
        optimizer.zero_grad(set_to_none=True)
        with impl.autocast():
            loss = variant.hr_l1_weight * F.l1_loss(impl.reverse(lr, 0.0), hr)
        step(loss)


# ----------------------------------------------------------------------------- inputs and model
def image_batch(batch: int, size: int, seed: int) -> Any:
    """``batch`` random ``size×size`` crops of photographs shipped with scikit-image, in [0, 1]."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    try:
        from skimage import data

        photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    except Exception:  # no scikit-image: smooth synthetic images (timing does not depend on content)
        yy, xx = np.mgrid[0:512, 0:512] / 512.0
        photos = [(np.stack([np.sin(7 * xx + k), np.cos(5 * yy - k), xx * yy], -1) * 127 + 128).astype(np.uint8) for k in range(4)]
    crops = []
    for b in range(batch):
        img = photos[b % len(photos)]
        while img.shape[0] < size or img.shape[1] < size:  # small photo, big crop: tile it
            img = np.concatenate([img, img[::-1]], 0) if img.shape[0] < size else np.concatenate([img, img[:, ::-1]], 1)
        y = int(rng.integers(0, img.shape[0] - size + 1))
        x = int(rng.integers(0, img.shape[1] - size + 1))
        crops.append(img[y : y + size, x : x + size, :3])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255).contiguous()


def benchmark_model(name: str, hr: Any, seed: int) -> Any:
    """Our network with non-trivial weights: ActNorms initialised on ``hr``, then every parameter
    moved by 0.001·N(0, 1), so that no coupling or prior is the identity.  (The parity fixtures'
    0.01 makes the 26-step paper-size flows overflow: an untrained deep flow compounds it.)"""
    import torch

    import hcflow_lite as hc
    from hcflow_lite.testing import perturb_parameters

    torch.manual_seed(seed)
    model = hc.build_model(name).train()
    with torch.no_grad():
        model.encode(hr)
    perturb_parameters(model, 0.001, torch.Generator().manual_seed(seed))
    model.mark_initialized()
    return model.eval()


def prepare_weights(spec: dict[str, Any], folder: Path) -> Path:
    """Save the benchmark weights once, ours and in the official layout, for every worker.

    Every worker then builds its network and loads a file, the same set-up for both
    implementations (so that neither's peak memory carries the other's leftovers).
    """
    import torch

    import hcflow_lite as hc

    variant = VARIANTS[spec["variant"]]
    name = model_name(variant, spec["model_size"])
    path = folder / f"{name}-{spec['size']}-{spec['batch']}-{spec['seed']}"
    if not (path / "official.pt").is_file():
        path.mkdir(parents=True, exist_ok=True)
        model = benchmark_model(name, image_batch(spec["batch"], spec["size"], spec["seed"]), spec["seed"])
        torch.save(model.state_dict(), path / "ours.pt")
        torch.save(hc.export_official(model), path / "official.pt")
    return path


def model_name(variant: Variant, model_size: str) -> str:
    return variant.model if model_size == "paper" else f"{variant.model}-{model_size}"


# ----------------------------------------------------------------------------- measurement helpers
def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.M)
    return int(m.group(1)) if m else -1


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Workload:
    """Inputs, implementations and the closures that run each path for each of them."""

    def __init__(self, spec: dict[str, Any], keys: list[str]) -> None:
        import torch

        self.spec = spec
        self.variant = VARIANTS[spec["variant"]]
        self.device = torch.device(spec["device"])
        self.hr = image_batch(spec["batch"], spec["size"], spec["seed"]).to(self.device)
        import hcflow_lite as hc
        from hcflow_lite.data import imresize

        self.config = hc.get_model_config(model_name(self.variant, spec["model_size"]))
        scale = self.config.scale
        with torch.no_grad():
            lr = imresize(self.hr.cpu(), 1 / scale).clamp(0, 1)
        self.lr = (torch.round(lr * 255) / 255).to(self.device)  # the 8-bit bicubic LR
        weights = Path(spec["weights"]) if spec.get("weights") else None
        if weights is None:  # called directly (tests): make the weights in memory
            model = benchmark_model(self.config.name, self.hr.cpu(), spec["seed"])
            ours_state, official_state = model.state_dict(), hc.export_official(model)
            del model
        self.impls: dict[str, Ours] = {}
        for key in keys:
            impl_name, dtype = key.split("/")
            if impl_name == "ours":
                state = torch.load(weights / "ours.pt", weights_only=True) if weights else ours_state
                m = hc.build_model(self.config)
                m.load_state_dict(state)  # also marks the ActNorms initialised
                self.impls[key] = Ours(m.eval().to(self.device), dtype, self.device)
            else:
                state = torch.load(weights / "official.pt", weights_only=True) if weights else official_state
                net = build_official(import_official(spec["official"]), self.config, state, spec["size"], self.device)
                self.impls[key] = Official(net, self.config.task == "sr", self.device)
            del state
        self.parameters = sum(p.numel() for p in next(iter(self.impls.values())).module().parameters())
        self.optimizers: dict[str, tuple[Any, list[Any]]] = {}

    def set_mode(self, path: str) -> None:
        for impl in self.impls.values():
            impl.module().train(path == "train")

    def runner(self, key: str, path: str) -> Any:
        import torch

        impl, v, hr, lr = self.impls[key], self.variant, self.hr, self.lr
        n, tau = self.spec["samples"], v.temperature
        if path == "train":
            from hcflow_lite.train.steps import adam

            if key not in self.optimizers:
                params = [p for p in impl.module().parameters() if p.requires_grad]
                if key == OFFICIAL:  # as its training script builds it
                    opt = torch.optim.Adam(params, lr=v.learning_rate, betas=(0.9, 0.99))
                else:  # as our Recipe builds it
                    opt = adam(params, v.learning_rate, (0.9, 0.99))
                self.optimizers[key] = (opt, params)
            opt, params = self.optimizers[key]
            return lambda: train_iteration(impl, opt, params, hr, lr, v)

        def run() -> None:
            with torch.no_grad(), impl.autocast():
                if path == "forward":
                    impl.forward(hr, lr)
                elif path == "reverse":
                    impl.reverse(lr, tau)
                else:
                    impl.sample(lr, n, tau)

        return run

    def count_flops(self, key: str, path: str) -> int:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            self.runner(key, path)()
        return int(counter.get_total_flops())

    def checks(self) -> dict[str, Any]:
        """Run every implementation once on the same input and compare (before any training).

        The NLL is compared with the reference implementation's own LR as the LR target: with
        the dataset LR, an untrained network's NLL is all LR mismatch (float32 arithmetic in
        both), which would hide any difference in the flow and the priors.
        """
        import torch

        self.set_mode("forward")
        res = {}
        for key, impl in self.impls.items():
            with torch.no_grad(), impl.autocast():
                torch.manual_seed(self.spec["seed"] + 1)  # same dequantisation noise for all
                res[key] = {"fwd": impl.forward(self.hr, self.lr), "sr0": impl.reverse(self.lr, 0.0)}
        ref_key = OFFICIAL if OFFICIAL in res else next(iter(res))
        ref = res[ref_key]
        if ref["fwd"]["nll"] is not None:
            own_lr = ref["fwd"]["lr"]
            for key, impl in self.impls.items():
                with torch.no_grad(), impl.autocast():
                    torch.manual_seed(self.spec["seed"] + 1)
                    res[key]["nll_own_lr"] = impl.forward(self.hr, own_lr)["nll"]
        f32_sr = res.get("ours/float32", ref)["sr0"]
        out: dict[str, Any] = {}
        for key, r in res.items():
            fwd, sr0 = r["fwd"], r["sr0"]
            c: dict[str, Any] = {"reference": ref_key}
            c["lr_max_abs_diff"] = float((fwd["lr"] - ref["fwd"]["lr"]).abs().max())
            if "nll_own_lr" in r:
                c["nll"] = float(r["nll_own_lr"])
                c["nll_rel_diff"] = abs(float(r["nll_own_lr"]) / float(ref["nll_own_lr"]) - 1)
            if fwd["eps"] is not None and ref["fwd"]["eps"] is not None:
                c["eps_max_abs_diff"] = max(float((a - b).abs().max()) for a, b in zip(fwd["eps"], ref["fwd"]["eps"]))
            c["sr_tau0_max_abs_diff"] = float((sr0 - ref["sr0"]).abs().max())
            c["psnr_tau0_db"] = _psnr(sr0, self.hr)
            c["psnr_tau0_minus_float32_db"] = c["psnr_tau0_db"] - _psnr(f32_sr, self.hr)
            c["psnr_tau0_vs_float32_db"] = _psnr(sr0, f32_sr)
            c["finite"] = bool(torch.isfinite(sr0).all()) and ("nll_own_lr" not in r or bool(torch.isfinite(r["nll_own_lr"])))
            out[key] = c
        return out


def _psnr(a: Any, b: Any) -> float:
    """PSNR (dB) of 8-bit-rounded images, as the official evaluation."""
    qa, qb = (a.clamp(0, 1) * 255).round().double(), (b.clamp(0, 1) * 255).round().double()
    mse = float((qa - qb).square().mean())
    return 20 * math.log10(255.0 / math.sqrt(mse)) if mse > 0 else float("inf")


def _summary(times: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {
        "times_s": [round(t, 5) for t in times],
        "median_s": statistics.median(times),
        "q1_s": q[0],
        "q3_s": q[2],
        "min_s": min(times),
        "max_s": max(times),
    }


# ----------------------------------------------------------------------------- workers
def _setup_worker(spec: dict[str, Any]) -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    torch.set_num_threads(spec["threads"])
    if spec["device"] == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible to torch")


def timing_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """All paths of one network, the implementations interleaved repetition by repetition."""
    _setup_worker(spec)
    keys = [f"ours/{d}" for d in spec["dtypes"]] + ([OFFICIAL] if spec["official"] else [])
    w = Workload(spec, keys)
    v = w.variant
    result: dict[str, Any] = {"label": v.label, "model": model_name(v, spec["model_size"]), "parameters": w.parameters}
    result["config"] = w.config.to_dict()
    result["checks"] = w.checks()
    result["paths"] = {}
    for path in [p for p in v.paths if p in spec["paths"]]:
        w.set_mode(path)
        runners = {k: w.runner(k, path) for k in keys}
        flops = {k: w.count_flops(k, path) for k in keys}
        times: dict[str, list[float]] = {k: [] for k in keys}
        cpu: dict[str, list[float]] = {k: [] for k in keys}  # this process's CPU time (CPU runs)
        total = spec["warmup"] + spec["repeats"]
        for rep in range(total):
            order = keys[rep % len(keys) :] + keys[: rep % len(keys)]  # rotate: no position bias
            for k in order:
                _sync(w.device)
                t0, c0 = time.perf_counter(), time.process_time()
                runners[k]()
                _sync(w.device)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                if rep >= spec["warmup"]:
                    times[k].append(dt)
                    cpu[k].append(dc)
            tag = "warm-up" if rep < spec["warmup"] else f"{rep - spec['warmup'] + 1}/{spec['repeats']}"
            last = ", ".join(f"{k} {times[k][-1]:.3f} s" for k in keys if rep >= spec["warmup"])
            _log(f"  [{v.name}] {path} {tag} {last}  load {_loadavg()}")
        entry: dict[str, Any] = {"impls": {}, "speedup": {}}
        for k in keys:
            s = _summary(times[k])
            if w.device.type == "cpu":
                s["cpu_times_s"] = [round(t, 5) for t in cpu[k]]
                s["cpu_median_s"] = statistics.median(cpu[k])
            s["flops"] = flops[k]
            s["gflops_per_s"] = flops[k] / s["median_s"] / 1e9
            entry["impls"][k] = s
        if OFFICIAL in keys:
            for k in keys:
                if k == OFFICIAL:
                    continue
                paired = [o / t for o, t in zip(times[OFFICIAL], times[k])]
                entry["speedup"][k] = {
                    "ratio_of_medians": entry["impls"][OFFICIAL]["median_s"] / entry["impls"][k]["median_s"],
                    "paired_median": statistics.median(paired),
                    "paired_min": min(paired),
                    "paired_max": max(paired),
                }
                if w.device.type == "cpu":  # CPU time: less sensitive to other processes' load
                    entry["speedup"][k]["cpu_paired_median"] = statistics.median(
                        [o / t for o, t in zip(cpu[OFFICIAL], cpu[k])]
                    )
        result["paths"][path] = entry
    return result


def memory_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of one implementation running one path (this process runs nothing else)."""
    import torch

    _setup_worker(spec)
    w = Workload(spec, [spec["impl"]])
    w.set_mode(spec["path"])
    run = w.runner(spec["impl"], spec["path"])
    gc.collect()
    cuda = w.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        setup = torch.cuda.memory_allocated()
    else:
        setup = _rss_kib("VmRSS") * 1024
        reset = _reset_peak_rss()
    for _ in range(spec["warmup"] + 1):
        run()
    _sync(w.device)
    if cuda:
        peak, kind = torch.cuda.max_memory_allocated(), "cuda_max_memory_allocated"
    else:
        peak = _rss_kib("VmHWM") * 1024 if reset else _rss_kib("VmHWM") * 1024
        kind = "peak_rss_after_setup" if reset else "peak_rss_whole_process"
    return {"peak_bytes": peak, "setup_bytes": setup, "kind": kind}


def calibration_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """This machine's 3×3-convolution rate (64 → 64 channels, 80×80, batch 1, NHWC), per dtype."""
    import torch

    _setup_worker(spec)
    device = torch.device(spec["device"])
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device)
    x = torch.randn(1, 64, 80, 80, device=device).contiguous(memory_format=torch.channels_last)
    flops = 2 * 64 * 64 * 9 * 80 * 80
    out = {}
    for dtype in ("float32", "bfloat16"):
        conv, x = conv.to(getattr(torch, dtype)), x.to(getattr(torch, dtype))
        with torch.no_grad():
            for _ in range(3):
                conv(x)
            times = []
            for _ in range(15):
                _sync(device)
                t0 = time.perf_counter()
                for _ in range(5):
                    conv(x)
                _sync(device)
                times.append((time.perf_counter() - t0) / 5)
        out[dtype] = {"gflops_per_s_median": flops / statistics.median(times) / 1e9, "gflops_per_s_best": flops / min(times) / 1e9}
    return out


WORKERS = {"timing": timing_worker, "memory": memory_worker, "calibration": calibration_worker}


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one worker in a fresh Python process; its result (or its error) as a dict."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(spec["threads"]), MKL_NUM_THREADS=str(spec["threads"]), PYTHONPATH=str(ROOT))
    if spec["kind"] == "memory":
        # glibc raises its mmap threshold each time a large block is freed, after which tensors
        # of that size come from the heap and stay in the RSS when freed: a peak of a few tens
        # of MiB then depends on the allocation history (±4 MiB from one process to the next,
        # measured).  Fixed at its initial 128 KiB, freed tensors go back to the system at once
        # and the peak RSS follows the live tensors (±0.5 MiB).  The same for both implementations.
        env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            out = json.loads(line[len(RESULT_MARK) :])
            out["_wall_s"] = round(time.perf_counter() - t0, 1)
            return out
    return {"error": f"worker exited with code {proc.returncode}", "stdout_tail": proc.stdout[-2000:]}


# ----------------------------------------------------------------------------- report
def _fmt_s(v: float | None) -> str:
    return "–" if v is None else (f"{v:.2f} s" if v >= 0.1 else f"{v * 1e3:.0f} ms")


def _fmt_x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _fmt_mb(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 2**30:.2f} GiB" if v >= 2**30 else f"{v / 2**20:.0f} MiB" if v >= 100 * 2**20 else f"{v / 2**20:.1f} MiB"


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


PATH_LABEL = {"forward": "forward HR→(LR, NLL)", "reverse": "reverse LR→SR", "sample": "{n} samples", "train": "one training iteration"}


#: (variant, path, minimum paired speed-up of ours under bfloat16 autocast over official float32)
BF16_GOALS = (("hcflow", "train", 1.6), ("hcflow+", "train", 1.6), ("hcflow", "sample", 1.8), ("rescaling", "train", 1.5))
#: the float32 paths that must never be slower than the official code, nor use more peak memory
FP32_GOALS = (("hcflow", "forward"), ("hcflow", "sample"), ("hcflow", "train"), ("hcflow+", "train"),
              ("rescaling", "forward"), ("rescaling", "sample"), ("rescaling", "train"))


def _path_memory(res: dict[str, Any], vname: str, path: str, key: str) -> float | None:
    """Peak memory the path itself adds: peak minus the memory after setup (model and inputs loaded).

    Both implementations hold the same weights (the same bytes), but their processes import
    different Python modules, which moves the absolute RSS by about a MiB before anything runs;
    the goals compare what running the path costs on top of that.
    """
    m = _get(res, vname, "memory", path, key)
    if not isinstance(m, dict) or m.get("peak_bytes") is None or m.get("setup_bytes") is None:
        return None
    return max(m["peak_bytes"] - m["setup_bytes"], 0)


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The project's performance goals, each with the measured value and whether it is met.

    Float32: every path of :data:`FP32_GOALS` at least as fast as the official code (paired
    median speed-up ≥ 1) and no more peak memory above the loaded model (:func:`_path_memory`); bfloat16 autocast: the speed-ups of
    :data:`BF16_GOALS`.  A goal whose numbers are missing from the report is not met.
    """
    res = report.get("results", {})
    out: list[dict[str, Any]] = []
    n = report.get("args", {}).get("samples", 5)
    for vname, path in FP32_GOALS:
        label = f"{VARIANTS[vname].label}, {PATH_LABEL[path].format(n=n)}"
        x = _get(res, vname, "paths", path, "speedup", "ours/float32", "paired_median")
        out.append({"goal": f"{label}: float32 not slower", "value": x, "text": _fmt_x(x),
                    "met": x is not None and x >= 1.0})
        mo, mf = _path_memory(res, vname, path, OFFICIAL), _path_memory(res, vname, path, "ours/float32")
        out.append({"goal": f"{label}: float32 peak memory of the path not higher",
                    "value": None if mo is None or mf is None or not mo else mf / mo,
                    "text": f"{_fmt_mb(mf)} vs {_fmt_mb(mo)}", "met": mo is not None and mf is not None and mf <= mo})
    for vname, path, minimum in BF16_GOALS:
        label = f"{VARIANTS[vname].label}, {PATH_LABEL[path].format(n=n)}"
        x = _get(res, vname, "paths", path, "speedup", "ours/bfloat16", "paired_median")
        out.append({"goal": f"{label}: bfloat16 ≥ {minimum:g}× official", "value": x, "text": _fmt_x(x),
                    "met": x is not None and x >= minimum})
    return out


def markdown(report: dict[str, Any]) -> str:
    """The tables of the book's performance page, from one results file."""
    meta, args = report["meta"], report["args"]
    n = args["samples"]
    dtypes = [f"ours/{d}" for d in args["dtypes"]]
    has_official = bool(args.get("official"))
    lines = [
        f"Written by `{report['command']}` on {meta['date']} "
        f"({meta['device_name']}, {args['threads']} threads, batch {args['batch']}, HR {args['size']}×{args['size']}, "
        f"median of {args['repeats']} after {args['warmup']} warm-up; torch {meta['torch']}; "
        f"load average {meta['loadavg_start']} at the start, {meta['loadavg_end']} at the end).",
        "",
    ]
    head = ["network", "path"]
    if has_official:
        head.append("official float32")
    for k in dtypes:
        head.append(f"ours {k.split('/')[1]}")
        if has_official:
            head.append("speed-up" + (" (CPU time)" if args["device"] == "cpu" else ""))
    if has_official:
        lines += ["| goal | measured | met |", "|---|---|---|"]
        lines += [f"| {g['goal']} | {g['text']} | {'yes' if g['met'] else '**no**'} |" for g in goals(report)]
        lines += ["", "Times (median, seconds) and paired speed-ups of ours over the official code:", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mem_rows = []
    flop_rows = []
    for vname, res in report["results"].items():
        if "error" in res:
            lines.append(f"| {VARIANTS[vname].label} | error: {res['error']} |")
            continue
        for path, entry in res["paths"].items():
            row = [res["label"], PATH_LABEL[path].format(n=n)]
            if has_official:
                row.append(_fmt_s(_get(entry, "impls", OFFICIAL, "median_s")))
            for k in dtypes:
                row.append(_fmt_s(_get(entry, "impls", k, "median_s")))
                if has_official:
                    cell = _fmt_x(_get(entry, "speedup", k, "paired_median"))
                    cpu_x = _get(entry, "speedup", k, "cpu_paired_median")
                    row.append(cell + (f" ({_fmt_x(cpu_x)})" if cpu_x is not None else ""))
            lines.append("| " + " | ".join(row) + " |")
            mem = [res["label"], PATH_LABEL[path].format(n=n)]
            for k in ([OFFICIAL] if has_official else []) + dtypes:
                used = _path_memory(report["results"], vname, path, k)
                mem.append(f"{_fmt_mb(used)} ({_fmt_mb(_get(res, 'memory', path, k, 'peak_bytes'))})")
            mem_rows.append("| " + " | ".join(mem) + " |")
            gf = _get(entry, "impls", dtypes[0], "flops")
            fl = [res["label"], PATH_LABEL[path].format(n=n), "–" if gf is None else f"{gf / 1e9:.3g}"]
            for k in ([OFFICIAL] if has_official else []) + dtypes:
                rate = _get(entry, "impls", k, "gflops_per_s")
                fl.append("–" if rate is None else f"{rate:.3g}")
            flop_rows.append("| " + " | ".join(fl) + " |")
    impl_names = (["official float32"] if has_official else []) + [f"ours {k.split('/')[1]}" for k in dtypes]
    mem_kind = "peak RSS while running the path" if args["device"] == "cpu" else "`torch.cuda.max_memory_allocated`"
    lines += ["", f"Peak memory of the path above the loaded model and inputs, and in brackets the whole process's "
              f"({mem_kind}; a fresh process per cell):", ""]
    lines += ["| network | path | " + " | ".join(impl_names) + " |", "|" + "---|" * (2 + len(impl_names))]
    lines += mem_rows
    cal = report.get("machine", {})
    rates = ", ".join(
        f"{d} {cal[d]['gflops_per_s_median']:.0f} GFLOP/s" for d in ("float32", "bfloat16") if isinstance(cal.get(d), dict)
    )
    lines += [
        "",
        f"FLOPs (`FlopCounterMode`; for ours the sampler shares the coarsest features) and achieved GFLOP/s "
        f"(this machine's 3×3 convolution in the same run: {rates or 'not measured'}):",
        "",
        "| network | path | GFLOP (ours) | " + " | ".join(impl_names) + " |",
        "|" + "---|" * (3 + len(impl_names)),
    ]
    lines += flop_rows
    lines += ["", "Same numbers (each implementation once on the same input, same weights, before timing):", ""]
    lines += ["| network | implementation | NLL rel. diff. | max abs diff LR | max abs diff SR τ=0 | PSNR τ=0 − float32 |", "|---|---|---|---|---|---|"]
    for res in report["results"].values():
        for k, c in (res.get("checks") or {}).items():
            if k == c["reference"]:
                continue
            nll = c.get("nll_rel_diff")
            lines.append(
                f"| {res['label']} | {k} (vs {c['reference']}) | {'–' if nll is None else f'{nll:.1e}'} | "
                f"{c['lr_max_abs_diff']:.1e} | {c['sr_tau0_max_abs_diff']:.1e} | {c['psnr_tau0_minus_float32_db']:+.3f} dB |"
            )
    return "\n".join(lines) + "\n"


def print_summary(report: dict[str, Any]) -> None:
    print(markdown(report))


def _git(*args: str, cwd: Path) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cuda"
    name = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        flags = Path("/proc/cpuinfo").read_text()
        if "avx512_bf16" in flags:
            name += " (avx512_bf16)"
    except OSError:
        pass
    return name


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default="hcflow,hcflow+,rescaling,face", help="comma list of " + ", ".join(VARIANTS))
    p.add_argument("--paths", default=",".join(PATHS), help="comma list of " + ", ".join(PATHS))
    p.add_argument("--size", type=int, default=160, help="HR crop size (divisible by 2^L)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (also OMP/MKL_NUM_THREADS)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--dtypes", default="float32,bfloat16", help="ours: float32 and/or bfloat16 (autocast)")
    p.add_argument("--samples", type=int, default=5, help="n of the sample path")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-size", default="paper", choices=("paper", "lite", "tiny"))
    p.add_argument("--official", default=None, help="checkout of github.com/JingyunLiang/HCFlow, timed side by side")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    p.add_argument("--quick", action="store_true", help="3 repeats, networks hcflow and rescaling")
    p.add_argument("--out", default=None, help="write the results JSON here")
    p.add_argument("--markdown", default=None, metavar="JSON", help="only write the book's table from a results JSON")
    p.add_argument("--markdown-out", default=str(ROOT / "book" / "_generated" / "benchmark_table.md"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 3)
        if args.variants == p.get_default("variants"):
            args.variants = "hcflow,rescaling"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(RESULT_MARK + json.dumps(WORKERS[spec["kind"]](spec)), flush=True)
        return 0
    if args.markdown:
        report = json.loads(Path(args.markdown).read_text())
        out = Path(args.markdown_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown(report))
        print(f"wrote {out}")
        return 0

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    paths = [q.strip() for q in args.paths.split(",") if q.strip()]
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    for q in paths:
        if q not in PATHS:
            raise SystemExit(f"unknown path {q!r}; known: {', '.join(PATHS)}")
    for d in dtypes:
        if d not in ("float32", "bfloat16"):
            raise SystemExit(f"unknown dtype {d!r} (float32 or bfloat16)")
    official = str(official_codes_dir(args.official)) if args.official else None
    base = {
        "size": args.size,
        "batch": args.batch,
        "threads": args.threads,
        "device": args.device,
        "samples": args.samples,
        "seed": args.seed,
        "model_size": args.model_size,
        "official": official,
    }
    import torch

    report: dict[str, Any] = {
        "schema": 1,
        "command": "python ci/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "args": {**vars(args), "dtypes": dtypes, "variants": variants, "paths": paths},
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device_name": _device_name(args.device),
            "cpu_count": os.cpu_count(),
            "hcflow_lite_commit": _git("rev-parse", "--short", "HEAD", cwd=ROOT),
            "hcflow_lite_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", cwd=ROOT)),
            "official_commit": _git("rev-parse", "--short", "HEAD", cwd=Path(official)) if official else None,
            "loadavg_start": _loadavg(),
        },
        "results": {},
    }
    report["args"].pop("worker", None)
    import tempfile

    weights_dir = Path(tempfile.mkdtemp(prefix="hcflow-benchmark-"))
    _log(f"preparing the weights in {weights_dir} ...")
    weights = {v: str(prepare_weights({**base, "variant": v}, weights_dir)) for v in variants}
    _log(f"calibrating the convolution rate ({args.device}, {args.threads} threads) ...")
    report["machine"] = run_worker({**base, "kind": "calibration"})
    for v in variants:
        _log(f"timing {v} ...")
        spec = {**base, "kind": "timing", "variant": v, "weights": weights[v], "dtypes": dtypes, "paths": paths,
                "repeats": args.repeats, "warmup": args.warmup}  # fmt: skip
        report["results"][v] = run_worker(spec)
    if not args.no_memory:
        keys = ([OFFICIAL] if official else []) + [f"ours/{d}" for d in dtypes]
        for v in variants:
            res = report["results"][v]
            if "error" in res:
                continue
            res["memory"] = {}
            for path in res["paths"]:
                res["memory"][path] = {}
                for key in keys:
                    _log(f"peak memory: {v} {path} {key} ...")
                    spec = {**base, "kind": "memory", "variant": v, "weights": weights[v], "impl": key, "path": path, "warmup": 1}
                    res["memory"][path][key] = run_worker(spec)
    shutil.rmtree(weights_dir, ignore_errors=True)
    report["meta"]["loadavg_end"] = _loadavg()
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        _log(f"wrote {out}")
    print_summary(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
