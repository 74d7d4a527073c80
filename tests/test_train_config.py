"""Training configs: the seven paper recipes against the paper's values, and the config machinery.

``PAPER`` below is written from the tables of the specification (§1.1 architecture, §7.1/§7.2
training), independently of the YAML files it checks.
"""

from __future__ import annotations

import pytest

from hcflow_lite.train import available_configs, load_config, lr_factor, parse_overrides
from hcflow_lite.train.config import ScheduleConfig

# name: (task, L, K (unconditional, per level), P, RRDB blocks, nf, gc, quant, weights (nll, pix, fea, gan),
#        lr_G, iterations, milestones, temperature, init_from needed)
ARCH = {
    "sr_x4": ("sr", 2, (13, 13), (13, 13), (7, 7), 64, 32, 64),
    "face_x8": ("sr", 3, (13, 13, 13), (13, 13, 13), (5, 5), 64, 32, 256),
    "rescale_x4": ("rescaling", 2, (8, 8), (6, 6), (2, 1), 64, 16, None),
}
PAPER = {
    "sr_x4": ("sr_x4", (1, 0, 0, 0), 2.5e-4, 300_000, [150_000, 225_000, 270_000, 285_000], 0.9, False),
    "sr_x4_plus": ("sr_x4", (2e-3, 1, 0, 0), 5e-5, 50_000, [20_000, 40_000], 0.9, True),
    "sr_x4_plusplus": ("sr_x4", (2e-3, 1, 5e-2, 5e-1), 1.25e-5, 50_000, [20_000, 40_000], 0.9, True),
    "face_x8": ("face_x8", (1, 0, 0, 0), 2.5e-4, 350_000, [200_000, 250_000, 280_000, 310_000, 340_000], 0.8, False),
    "face_x8_plus": ("face_x8", (2e-3, 1, 0, 0), 5e-5, 50_000, [20_000, 40_000], 0.8, True),
    "face_x8_plusplus": ("face_x8", (2e-3, 1, 5e-2, 5e-1), 1.25e-5, 50_000, [20_000, 40_000], 0.8, True),
    "rescale_x4": ("rescale_x4", (0, 1, 0, 0), 2.5e-4, 500_000, [100_000, 200_000, 300_000, 400_000, 450_000], 1.0, False),
}


@pytest.mark.parametrize("name", list(PAPER))
def test_paper_configs_have_the_papers_values(name: str) -> None:
    arch, weights, lr, iters, milestones, tau, fine_tune = PAPER[name]
    task, L, K, P, nb, nf, gc, quant = ARCH[arch]
    cfg = load_config(name)
    m = cfg.model_config()
    assert (m.task, m.L, m.K, m.P, m.rrdb_nb, m.rrdb_nf, m.rrdb_gc, m.quant) == (task, L, K, P, nb, nf, gc, quant)
    w = cfg.losses
    assert (w.nll, w.pixel_hr, w.perceptual, w.gan) == weights
    if task == "rescaling":
        assert (w.pixel_lr, w.latent, w.pixel_criterion) == (5e-2, 1e-5, "l1")
    else:
        assert (w.pixel_lr, w.latent) == (0, 0)
    if w.gan:
        assert (w.gan_type, w.discriminator, w.discriminator_nf, w.d_init_iters) == ("gan", "discriminator_vgg_160", 64, 1500)
        assert (cfg.optim.d_learning_rate, cfg.optim.d_beta1, cfg.optim.d_beta2) == (5e-5, 0.9, 0.99)
        assert w.allow_random_vgg is False
    o = cfg.optim
    assert (o.learning_rate, o.beta1, o.beta2, o.weight_decay, o.max_grad_clip, o.max_grad_norm) == (lr, 0.9, 0.99, 0, 5, 100)
    s = cfg.schedule
    assert (s.iterations, s.kind, s.milestones, s.gamma, s.warmup) == (iters, "multistep", milestones, 0.5, 0)
    assert (cfg.data.batch_size, cfg.data.patch_size) == (16, 160)
    assert w.temperature == tau
    assert (cfg.init_from is not None) == fine_tune
    assert cfg.losses.official_grad_leak is False
    assert cfg.runtime.precision == "fp32" and cfg.seed == 0


def test_every_config_loads_and_has_lite_and_smoke_variants() -> None:
    names = available_configs()
    for paper in PAPER:
        assert {paper, f"{paper}-lite", f"{paper}-smoke"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name and cfg.description
        if name.endswith("-smoke"):
            assert cfg.schedule.iterations <= 30 and cfg.model_config().name.endswith("-tiny")
        if name.endswith("-lite"):
            assert cfg.data.train == "sample_set" and cfg.model_config().name.endswith("-lite")
            assert cfg.data.batch_size <= 8 and cfg.schedule.iterations <= 3000
            assert cfg.losses.allow_random_vgg is False  # only smoke runs may use a random-weight VGG
        if "plusplus" in name and name.endswith("-smoke"):
            assert cfg.losses.allow_random_vgg and cfg.losses.d_init_iters < cfg.schedule.iterations


def test_lite_recipes_keep_the_papers_loss_weights() -> None:
    for name, (_, weights, *_rest) in PAPER.items():
        lite = load_config(f"{name}-lite").losses
        assert (lite.nll, lite.pixel_hr, lite.perceptual, lite.gan) == weights, name
    assert load_config("sr_x4_plus-lite").init_from is None  # alone from scratch; the book's stages set it


def test_overrides_are_typed_and_dotted() -> None:
    cfg = load_config("sr_x4", ["data.batch_size=1", "data.patch_size=32", "optim.learning_rate=1e-3",
                                "schedule.milestones=[10, 20]", "validation.every=5e3", "model=sr_x4-tiny",
                                "losses.official_grad_leak=true", "init_from=null"])
    assert (cfg.data.batch_size, cfg.data.patch_size, cfg.optim.learning_rate) == (1, 32, 1e-3)
    assert cfg.schedule.milestones == [10, 20] and cfg.validation.every == 5000
    assert cfg.model_config().name == "sr_x4-tiny" and cfg.losses.official_grad_leak is True
    inline = load_config("sr_x4", ["model.K=2", "model.rrdb_nb=[1, 1]"]).model_config()
    assert inline.K == (2, 2) and inline.rrdb_nb == (1, 1) and inline.P == (13, 13)
    assert parse_overrides(["a.b.c=1", "a.d=x"]) == {"a": {"b": {"c": 1}, "d": "x"}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.bach_size=1"], r"unknown config key 'data.bach_size'; did you mean 'data.batch_size'"),
        (["optimizer.learning_rate=1"], r"unknown config key 'optimizer'"),
        (["data.batch_size=1.5"], r"data.batch_size must be an integer"),
        (["optim.learning_rate=fast"], r"optim.learning_rate must be a number"),
        (["losses.allow_random_vgg=maybe"], r"must be true or false"),
        (["schedule.kind=cosine"], r"schedule.kind must be"),
        (["model=sr_x5"], r"unknown model 'sr_x5'"),
        (["model.depth=3"], r"unknown model config keys: \['depth'\]"),
        (["data=3"], r"data must be a section"),
        (["novalue"], r"--set expects key=value"),
    ],
)
def test_bad_configs_give_one_clear_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config("sr_x4-smoke", overrides)


def test_unknown_config_name_and_base_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no config named 'sr_x4_plsu'.*did you mean sr_x4_plus"):
        load_config("sr_x4_plsu")
    child = tmp_path / "mine.yaml"
    child.write_text("base: rescale_x4-lite\nschedule:\n  iterations: 7\nmodel:\n  K: 3\n")
    cfg = load_config(child)
    assert cfg.name == "mine" and cfg.schedule.iterations == 7 and cfg.optim.learning_rate == 1e-3
    assert cfg.model_config().K == (3, 3) and cfg.model_config().task == "rescaling"
    (tmp_path / "grandchild.yaml").write_text("base: mine\nseed: 3\n")
    assert load_config(tmp_path / "grandchild.yaml").schedule.iterations == 7
    (tmp_path / "loop.yaml").write_text("base: loop\n")
    with pytest.raises(ValueError, match="circular"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "bad.yaml").write_text("data: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_resolved_config_round_trips_through_yaml(tmp_path) -> None:
    cfg = load_config("sr_x4_plusplus-smoke", ["seed=5"])
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path).to_dict() == {**cfg.to_dict(), "name": "sr_x4_plusplus-smoke"}


def _official_multistep(base: float, milestones: list[int], gamma: float, n: int) -> list[float]:
    """The official MultiStepLR_Restart, stepped once before each iteration (spec §7.1), re-enacted."""
    rates, lr = [], base
    for last_epoch in range(1, n + 1):  # scheduler.step() → last_epoch = current_step
        if last_epoch in milestones:
            lr *= gamma
        rates.append(lr)  # the rate of iteration `last_epoch`
    return rates


def test_multistep_schedule_matches_the_official_order() -> None:
    s = ScheduleConfig(iterations=60, milestones=[20, 40], gamma=0.5)
    ours = [5e-5 * lr_factor(s, i) for i in range(1, 61)]
    assert ours == pytest.approx(_official_multistep(5e-5, [20, 40], 0.5, 60), rel=1e-12)
    assert lr_factor(s, 19) == 1.0 and lr_factor(s, 20) == 0.5 and lr_factor(s, 40) == 0.25  # milestone iterations already decayed


def test_linear_schedule_and_warmup() -> None:
    s = ScheduleConfig(iterations=101, kind="linear", final_factor=0.0)
    assert lr_factor(s, 1) == 1.0 and lr_factor(s, 51) == pytest.approx(0.5) and lr_factor(s, 101) == 0.0
    w = ScheduleConfig(iterations=100, kind="linear", warmup=10, final_factor=0.1)
    assert lr_factor(w, 5) == pytest.approx(0.5) and lr_factor(w, 10) == 1.0 and lr_factor(w, 100) == pytest.approx(0.1)
    assert lr_factor(ScheduleConfig(kind="constant", warmup=4), 2) == 0.5
    with pytest.raises(ValueError, match="counted from 1"):
        lr_factor(s, 0)
