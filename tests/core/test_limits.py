"""Every limit of lowrank_core.limits is the one its modules enforce, and still importable where it was."""

import pytest

from lowrank_core import cli, image, limits, metrics, sources, training
from lowrank_core.checkpoint import DEFAULT_CHECKPOINT_LIMITS
from lowrank_core.errors import InputError

REEXPORTS = [
    (sources, "MAX_GENERATED_SIDE"), (sources, "MAX_SEED"), (sources, "MAX_DECAY_RATE"),
    (sources, "DEFAULT_MAX_PIXELS"), (sources, "MAX_DECODE_PIXELS"), (sources, "DEFAULT_MAX_ENTRIES"),
    (sources, "TEXT_BYTES_PER_ENTRY"), (sources, "BINARY_BYTES_PER_ENTRY"),
    (sources, "BINARY_OVERHEAD_BYTES"), (sources, "MAX_JPEG_SCANS"), (sources, "DECODE_CPU_SECONDS"),
    (sources, "DECODE_WALL_SECONDS"), (sources, "DECODE_MEMORY_BYTES"),
    (cli, "MAX_FILE_BYTES"), (metrics, "SPECTRAL_MEASURE_MAX_ENTRIES"), (image, "RD_MAX_SIDE"),
    (training, "MAX_EPOCHS"),
]
CHECKPOINT_DEFAULTS = {  # CheckpointLimits field -> the limit it defaults to
    "max_file_bytes": "CHECKPOINT_MAX_FILE_BYTES", "max_tensors": "CHECKPOINT_MAX_TENSORS",
    "max_weights": "CHECKPOINT_MAX_WEIGHTS", "max_weight_entries": "CHECKPOINT_MAX_WEIGHT_ENTRIES",
    "max_total_entries": "CHECKPOINT_MAX_TOTAL_ENTRIES",
}


@pytest.mark.parametrize("module, name", REEXPORTS, ids=[f"{m.__name__}.{n}" for m, n in REEXPORTS])
def test_each_limit_is_the_one_object_of_limits(module, name):
    assert getattr(module, name) is getattr(limits, name)


def test_every_limit_is_re_exported_or_used_by_name():
    exported = {name for _, name in REEXPORTS}
    assert exported | {"LARGEST_MAX_ENTRIES"} | set(CHECKPOINT_DEFAULTS.values()) == set(limits.__all__)


@pytest.mark.parametrize("field, name", sorted(CHECKPOINT_DEFAULTS.items()))
def test_the_checkpoint_limits_are_the_defaults_of_checkpoint_limits(field, name):
    assert getattr(DEFAULT_CHECKPOINT_LIMITS, field) == getattr(limits, name)


def test_the_largest_max_entries_is_enforced():
    sources.load_matrix("1", max_entries=limits.LARGEST_MAX_ENTRIES)
    with pytest.raises(InputError):
        sources.load_matrix("1", max_entries=limits.LARGEST_MAX_ENTRIES + 1)
