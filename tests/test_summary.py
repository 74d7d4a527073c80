"""``model_summary``: stage shapes and parameter counts against the references.

References: the shape tables of the spec (§5, HR 160×160, verified there against the official
code's shape printout), written out below by hand; and the official paper-size key lists
(``tests/fixtures/parity/*/state_keys_full.json``, made by the official code), from which the
parameters of every stage are re-counted independently of our modules.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

import hcflow_lite as hc
from hcflow_lite.models import model_summary

FIXTURES = Path(__file__).parent / "fixtures" / "parity"

# spec §5: per main level (squeeze output, coupling-net (in, out) pairs, kept, latent)
# and per conditional level (u_l, feature h_l, coupling halves, net (in, out), prior out channels)
SPEC = {
    "sr_x4": {
        "main": [
            ((12, 80, 80), [(6, 12)], (6, 80, 80), (6, 80, 80)),
            ((24, 40, 40), [(12, 24)], (3, 40, 40), (21, 40, 40)),
        ],
        "cond": {
            1: ((3, 40, 40), (128, 40, 40), (10, 11), (138, 22), 42),
            0: ((134, 80, 80), (128, 80, 80), (3, 3), (131, 6), 12),
        },
        "params": 23_232_539,
        "steps": (13, 13),
    },
    "face_x8": {
        "main": [
            ((12, 80, 80), [(6, 12)], (6, 80, 80), (6, 80, 80)),
            ((24, 40, 40), [(12, 24)], (12, 40, 40), (12, 40, 40)),
            ((48, 20, 20), [(24, 48)], (3, 20, 20), (45, 20, 20)),
        ],
        "cond": {
            2: ((3, 20, 20), (128, 20, 20), (22, 23), (150, 46), 90),
            1: ((140, 40, 40), (128, 40, 40), (6, 6), (134, 12), 24),
            0: ((262, 80, 80), (128, 80, 80), (3, 3), (131, 6), 12),
        },
        "params": 27_017_723,
        "steps": (13, 13),
    },
    "rescale_x4": {
        "main": [
            ((12, 80, 80), [(3, 18), (9, 3)], (6, 80, 80), (6, 80, 80)),
            ((24, 40, 40), [(3, 42), (21, 3)], (3, 40, 40), (21, 40, 40)),
        ],
        "cond": {
            1: ((3, 40, 40), (64, 40, 40), (10, 11), (74, 22), 42),
            0: ((70, 80, 80), (64, 80, 80), (3, 3), (67, 6), 12),
        },
        "params": 4_396_350,
        "steps": (8, 6),
    },
}


@pytest.fixture(scope="module", params=list(SPEC))
def paper(request):
    return request.param, model_summary(request.param, hr_size=160, batch=1)


def test_shapes_match_spec_tables(paper) -> None:
    name, s = paper
    ref = SPEC[name]
    L = len(ref["main"])
    K, P = ref["steps"]
    assert s.hr_shape == (1, 3, 160, 160)
    for level, (squeezed, nets, kept, latent) in enumerate(ref["main"]):
        first = s.stage(level, "haar" if name == "rescale_x4" else "squeeze")
        assert first.shape == (1, *squeezed)
        steps = s.stage(level, "steps")
        assert steps.shape == (1, *squeezed) and steps.steps == K and list(steps.nets) == nets
        split = s.stage(level, "split")
        assert split.shape == (1, *kept) and split.latent == (1, *latent)
    for level, (u, feat, halves, net, prior_out) in ref["cond"].items():
        assert s.stage(level, "cond_input").shape == (1, *u)
        assert s.stage(level, "features").shape == (1, *feat)
        cs = s.stage(level, "cond_steps")
        assert cs.halves == halves and cs.nets == (net,) and cs.steps == P
        assert cs.shape == s.stage(level, "split").latent
        prior = s.stage(level, "prior")
        assert prior.shape == (1, prior_out // 2, *u[1:])
        assert f"→ {prior_out}:" in prior.detail
    # execution order: main flow fine → coarse, then the conditional levels coarse → fine
    order = [(st.part, st.level) for st in s.stages]
    mains = [lv for part, lv in order if part == "main"]
    conds = [lv for part, lv in order if part == "cond"]
    assert mains == sorted(mains) and conds == sorted(conds, reverse=True)
    assert order.index(("cond", L - 1)) > max(i for i, o in enumerate(order) if o[0] == "main")


def test_conditioning_input_composition(paper) -> None:
    """u_l = [y_l | up(h_{l+1}) | …]: kept channels, then one feature block per coarser level."""
    name, s = paper
    F = 128 if name != "rescale_x4" else 64
    L = len(SPEC[name]["main"])
    for level in range(L):
        u = s.stage(level, "cond_input")
        kept = s.stage(level, "split").shape[1]
        assert u.composition == (kept,) + (F,) * (L - 1 - level)
        assert sum(u.composition) == u.shape[1]


def _official_stage_params(name: str) -> dict[tuple[int, str], int]:
    """Parameters per (level, stage) re-counted from the official key list of the paper model."""
    ref = json.loads((FIXTURES / name / "state_keys_full.json").read_text())
    L = len(SPEC[name]["main"])
    K = SPEC[name]["steps"][0]
    counts: dict[tuple[int, str], int] = {}
    for key, shape in ref["keys"]:
        n = math.prod(shape)
        m = re.match(r"flow\.layers\.(\d+)\.(.*)", key)
        if m:
            i = int(m.group(1))
            level, offset = divmod(i, K + 2)
            stage = "haar" if offset == 0 else "steps"
            assert offset <= K and level < L, key
        else:
            m = re.match(r"flow\.level(\d)_condFlow\.(\w+)", key)
            assert m, key
            level = int(m.group(1))
            head = m.group(2)
            stage = {"additional_flow_steps": "cond_steps", "f": "prior"}.get(head, "features")
            assert stage != "features" or head in ("conv_first", "RRDB_trunk0", "RRDB_trunk1", "trunk_conv1"), key
        counts[(level, stage)] = counts.get((level, stage), 0) + n
    assert sum(counts.values()) == ref["num_parameters"]
    return counts


def test_stage_parameters_match_official_key_list(paper) -> None:
    name, s = paper
    official = _official_stage_params(name)
    ours = {(st.level, st.name): st.params for st in s.stages if st.params}
    assert ours == official
    assert s.num_parameters == SPEC[name]["params"] == sum(st.params for st in s.stages)


def test_instance_is_traced_on_its_device_and_mode_is_restored() -> None:
    torch.manual_seed(0)
    model = hc.build_model("face_x8-tiny").train()
    s = model_summary(model, hr_size=(16, 24), batch=2)
    assert model.training
    assert not any(bool(a.initialized) for a in model.actnorms())  # traced in eval: no ActNorm init
    assert s.stage(2, "split").shape == (2, 3, 2, 3)  # LR of a 16×24 image at ×8
    assert s.stage(0, "cond_input").shape[1] == 6 + 2 * model.config.feature_channels
    assert s.num_parameters == model.num_parameters()
    assert not any(h for m in model.modules() for h in m._forward_hooks.values())  # hooks removed


def test_rendering_and_errors() -> None:
    s = model_summary("sr_x4-tiny", hr_size=16)
    text = str(s)
    assert "u_0 = [y_0 (6) | up2(h_1) (16)]" in text and f"{s.num_parameters:,}" in text
    assert s._repr_html_().count("<tr>") == len(s.stages) + 3  # header, input, stages, total
    assert s.to_markdown().count("\n") == len(s.stages) + 3
    with pytest.raises(KeyError, match="no stage 'prior' at level 5"):
        s.stage(5, "prior")
    with pytest.raises(ValueError, match="not divisible by 2\\^L = 4"):
        model_summary("sr_x4-tiny", hr_size=18)
    with pytest.raises(TypeError):
        model_summary(3)  # type: ignore[arg-type]
