import pytest

from archscale.protocols import (
    PROTOCOLS, SCALINGS, UnknownProtocol, UnknownScaling, get_protocol, get_scaling, run_fingerprint, run_key,
)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_registry_entries_are_versioned_and_fingerprinted(name):
    protocol = get_protocol(name)
    assert protocol.version >= 1 and len(protocol.fingerprint) == 64
    assert protocol.key == f"{name}@v{protocol.version}"


def test_nb201_recipe():
    p = get_protocol("nb201-200")
    assert (p.epochs, p.batch_size, p.lr, p.momentum, p.nesterov, p.weight_decay) == (200, 256, 0.1, 0.9, True, 5e-4)
    assert (p.warmup_epochs, p.label_smoothing, p.C, p.N, p.benchmark) == (0, 0.0, 16, 5, True)
    assert get_protocol("nb201-12").epochs == 12
    assert not get_protocol("smoke").benchmark


def test_fingerprints_differ_between_protocols():
    assert len({p.fingerprint for p in PROTOCOLS.values()}) == len(PROTOCOLS)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownProtocol, match="use one of nb201-200, nb201-12, smoke"):
        get_protocol("nb201-100")
    with pytest.raises(UnknownScaling, match="use one of arch-aware, arch-aware-derived, standard, standard-tuned, "
                                             "per-arch-searched, mup"):
        get_scaling("he")
    assert set(SCALINGS) == {"arch-aware", "arch-aware-derived", "standard", "standard-tuned", "per-arch-searched",
                             "mup"}


def test_run_key_and_fingerprint_depend_on_every_field():
    p = get_protocol("smoke")
    keys = {run_key(1, "cifar10", "standard", p, 777), run_key(2, "cifar10", "standard", p, 777),
            run_key(1, "cifar100", "standard", p, 777), run_key(1, "cifar10", "mup", p, 777),
            run_key(1, "cifar10", "standard", get_protocol("nb201-12"), 777), run_key(1, "cifar10", "standard", p, 888)}
    assert len(keys) == 6
    base = dict(protocol=p, scaling="arch-aware", dataset="cifar10", seed=1, base_lr=0.46, precision="fp32",
                code_version="0.1.0", split="test")
    prints = {run_fingerprint(**base)} | {run_fingerprint(**{**base, k: v}) for k, v in
                                           [("base_lr", 0.3), ("precision", "bf16"), ("code_version", "0.2"),
                                            ("split", "valid"), ("seed", 2)]}
    assert len(prints) == 6
