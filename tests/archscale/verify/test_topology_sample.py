"""``topology`` (uniform DAG sample, released vs derivation MLP) and ``update-scale``: fields and sampling."""

from __future__ import annotations

import pytest

from archscale.dag import from_adjacency
from archscale.scaling import sum_l3
from archscale.verify import run_experiment
from archscale.verify.topology_sample import is_trivial, split_agreement, uniform_sample


def test_uniform_sample_is_seeded_distinct_and_has_paths():
    sample = uniform_sample(32, seed=0)
    assert sample == uniform_sample(32, seed=0) and sample != uniform_sample(32, seed=1)
    assert len(set(sample)) == 32
    assert all(len(a.split("_")) == 4 and sum_l3(from_adjacency(a), 1) > 0 for a in sample)


def test_trivial_means_no_layer_edge_on_any_path():
    assert is_trivial("1_11_111_0011")  # skips only
    assert is_trivial("1_02_100")  # the layer 1->2 is off every path: vertex 2 does not feed the output
    assert not is_trivial("1_02_011")  # 0 -skip-> 1 -layer-> 2 -skip-> 3
    assert not is_trivial("0_00_002_0000") and not is_trivial("2")


def test_split_agreement_drops_trivial_dags_only_where_asked():
    rows = [{"name": "a", "predicted": 1.0, "measured": 1.0}, {"name": "b", "predicted": 0.5, "measured": 0.5},
            {"name": "c", "predicted": 0.25, "measured": 0.3}, {"name": "t", "predicted": 0.7, "measured": 0.1},
            {"name": "x", "excluded": "failed"}]
    out = split_agreement(rows, trivial={"t"})
    assert out["all"]["n"] == 4 and out["non_trivial"]["n"] == 3
    assert out["non_trivial"]["r_log"] > 0.99 > out["all"]["r_log"]


@pytest.fixture
def _data(cifar10_jpeg, monkeypatch):
    monkeypatch.setenv("NB201_DATA_DIR", str(cifar10_jpeg.parent))


@pytest.mark.usefixtures("_data")
def test_topology_fast_released_reports_r_with_and_without_trivial_dags_and_the_output_scale():
    # two DAGs keep it to seconds: one trivial, one with all ten edges layers
    result = run_experiment("topology", fast=True, dags=["1_11_111_0011", "2_22_222_2222"],
                            options={"variant": "released"})
    s = result["summary"]
    assert s["variant"] == "released" and s["trivial_dags"] == 1  # 1_11_111_0011
    assert s["all_dags"]["n"] >= s["n"]
    assert {"r_log", "slope_log", "within_2x", "output_scale_non_trivial", "base_logit_rms"} <= set(s)
    nets = {n["name"]: n for n in result["networks"]}
    assert nets["1_11_111_0011"]["trivial"] and not nets["2_22_222_2222"]["trivial"]
    # measured at init: the released stem/readout give logits far from the mean-field ~0.1
    assert nets["base"]["logit_rms"] > 3 and nets["base"]["output_scale"] == pytest.approx(1.0)
    # skip-only DAG: z_out = (number of paths) * z_0, and 1_11_111_0011 has 6 paths: scale 36
    assert nets["1_11_111_0011"]["output_scale"] == pytest.approx(36.0, rel=1e-3)
    cfg = result["config"]
    assert cfg["components"] == {"block": "post", "stem": "released", "degree": "source",
                                 "readout_init": "released", "readout_lr": "full"}


def test_topology_ablation_swaps_exactly_one_component():
    from archscale.verify.mlp_variants import VARIANTS

    ablated = VARIANTS["released"].with_("degree", VARIANTS["derivation"].degree)
    assert ablated.degree == "target" and ablated.block == "post" and ablated.readout_init == "released"
    with pytest.raises(ValueError, match="--ablate 'bias'"):
        run_experiment("topology", fast=True, options={"ablate": "bias"})
    with pytest.raises(ValueError, match="with --variant released"):
        run_experiment("topology", fast=True, options={"variant": "derivation", "ablate": "stem"})


@pytest.mark.usefixtures("_data")
def test_update_scale_fast_summary_is_recomputable_from_its_rows():
    import numpy as np

    result = run_experiment("update-scale", fast=True)
    rows = result["rows"]
    assert {r["variant"] for r in rows} == {"released", "derivation"}
    for variant in ("released", "derivation"):
        entry = result["summary"]["by_setting"][f"{variant}.eta0=0.1"]
        cvs = {}
        for scheme in ("standard", "arch-aware"):
            df = [r["delta_f"] for r in rows if (r["variant"], r["scheme"]) == (variant, scheme) and not r["trivial"]]
            cvs[scheme] = np.std(df) / np.mean(df)
            assert entry[scheme]["delta_f"]["cv"] == pytest.approx(cvs[scheme], abs=1e-3)
        assert entry["cv_ratio_delta_f"] == pytest.approx(cvs["arch-aware"] / cvs["standard"], abs=2e-3)
    # arch-aware steps at eta0 * sqrt(27 / S); standard at eta0 for every network
    for r in rows:
        assert r["lr"] == pytest.approx(0.1 if r["scheme"] == "standard" else 0.1 * (27 / r["S"]) ** 0.5)
        assert len(r["vertex_dz2"]) == len(r["fed_vertices"])
