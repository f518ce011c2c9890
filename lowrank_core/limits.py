"""Every size limit of the core, in one place, each with its reason.

The modules that enforce a limit read it from here; each is also importable from where it was first
published (``sources.MAX_SEED``, ``metrics.SPECTRAL_MEASURE_MAX_ENTRIES``, ``cli.MAX_FILE_BYTES``,
``image.RD_MAX_SIDE``, ``training.MAX_EPOCHS``). The app's own, tighter limits (upload size, page sizes,
cache budgets) live in the UI layer, which reads these as upper bounds.
"""

__all__ = [
    "MAX_GENERATED_SIDE",
    "MAX_SEED",
    "MAX_DECAY_RATE",
    "DEFAULT_MAX_PIXELS",
    "MAX_DECODE_PIXELS",
    "MAX_JPEG_SCANS",
    "DECODE_CPU_SECONDS",
    "DECODE_WALL_SECONDS",
    "DECODE_MEMORY_BYTES",
    "DEFAULT_MAX_ENTRIES",
    "LARGEST_MAX_ENTRIES",
    "TEXT_BYTES_PER_ENTRY",
    "BINARY_BYTES_PER_ENTRY",
    "BINARY_OVERHEAD_BYTES",
    "MAX_FILE_BYTES",
    "SPECTRAL_MEASURE_MAX_ENTRIES",
    "RD_MAX_SIDE",
    "MAX_EPOCHS",
    "CHECKPOINT_MAX_FILE_BYTES",
    "CHECKPOINT_MAX_TENSORS",
    "CHECKPOINT_MAX_WEIGHTS",
    "CHECKPOINT_MAX_WEIGHT_ENTRIES",
    "CHECKPOINT_MAX_TOTAL_ENTRIES",
]

# ------------------------------------------------------------------------------------------- generators

MAX_GENERATED_SIDE = 2000
"""Largest m or n (and k, rank) a generator accepts; also the largest side of a procedural image."""
MAX_SEED = 2**63 - 1
"""Seeds are whole numbers in 0..MAX_SEED: any signed 64-bit value, which torch and numpy both accept."""
MAX_DECAY_RATE = 10.0
"""Largest ``rate`` of ``decaying_spectrum``: exp(-10 i) is below float32's resolution from i = 2 on."""

# ---------------------------------------------------------------------------------------------- images

DEFAULT_MAX_PIXELS = 4_000_000
"""Images with more pixels (width × height) are downscaled to fit, keeping their aspect ratio."""
MAX_DECODE_PIXELS = 50_000_000
"""Images whose header claims more pixels are refused before any pixel is decoded.

50 megapixels decode to at most 200 MB (RGBA, 8 bits), which a server survives; the same header can be
written in 100 bytes, hence the check before decoding. It is below Pillow's own limit (about 89 megapixels),
so Pillow's ``DecompressionBombWarning`` never fires for an image we accept.
"""
MAX_JPEG_SCANS = 100
"""A JPEG with more scans is refused before decoding. Each scan of a progressive JPEG is a pass over the whole
image, so a file that repeats its last scan thousands of times costs minutes of CPU in a few hundred kB;
encoders write about 10 (libjpeg's default progression)."""
DECODE_CPU_SECONDS = 20
"""CPU seconds an image decode may use; the decode runs in a child process that the kernel stops there
(``sources.isolation``). A 50-megapixel PNG or progressive JPEG decodes in 1–4 s on one core."""
DECODE_WALL_SECONDS = 90
"""Real seconds the loader waits for that child before killing it (room for a busy machine)."""
DECODE_MEMORY_BYTES = 1024 * 2**20
"""Memory an image decode may add to its process: the 50-megapixel limit decodes to at most 200 MB (RGBA,
8 bits) and the loader keeps at most one more full-size copy; see docs/robustness.md for measured peaks."""
RD_MAX_SIDE = 512
"""Rate-distortion curves are computed on a working copy at most this long on each side (seconds, not
minutes, for the dozens of encodes and reconstructions a curve needs)."""

# -------------------------------------------------------------------------------------------- matrices

DEFAULT_MAX_ENTRIES = 4_000_000
"""Matrices with more entries (m × n) are refused: 2000 × 2000, 16 MB as float32."""
LARGEST_MAX_ENTRIES = 10**9
"""The largest ``max_entries`` a caller may ask ``load_matrix`` for (4 GB as float32)."""
TEXT_BYTES_PER_ENTRY = 40
"""A text file may hold at most ``max_entries * TEXT_BYTES_PER_ENTRY`` bytes (checked before parsing)."""
BINARY_BYTES_PER_ENTRY = 8
"""A binary file may hold at most ``max_entries * BINARY_BYTES_PER_ENTRY + BINARY_OVERHEAD_BYTES`` bytes."""
BINARY_OVERHEAD_BYTES = 1 << 20
"""Room for a binary file's headers and archive directory beside its values (float64 at most: 8 bytes)."""
SPECTRAL_MEASURE_MAX_ENTRIES = 1_000_000
"""Above this many entries ``truncation_error`` does not measure ‖x − x_r‖₂ (a second full SVD)."""

# ------------------------------------------------------------------------------------ command line, training

MAX_FILE_BYTES = 256 * 2**20
"""The command line refuses larger files before reading them (the loaders' own limits are far below)."""
MAX_EPOCHS = 1000
"""Most epochs a training or fine-tune may ask for: about 20 s for the digits MLP on one core."""

# ------------------------------------------------------------------------------------------- checkpoints
# The defaults of ``checkpoint.CheckpointLimits``: the checkpoint page and ``python -m lowrank_core model``.

CHECKPOINT_MAX_FILE_BYTES = 256 * 2**20
"""Checkpoint files (.safetensors, .pt, .pth, .bin) above this are refused unread. A 4096×4096 float32 weight
is 64 MiB, so four fit; a 2-core server inspects 256 MiB of weights in about a minute."""
CHECKPOINT_MAX_TENSORS = 10_000
"""Tensors a checkpoint may hold (read from the safetensors header or the zip's directory first)."""
CHECKPOINT_MAX_WEIGHTS = 1_000
"""Candidate weights analysed; later ones are listed as skipped, with the reason."""
CHECKPOINT_MAX_WEIGHT_ENTRIES = 4096 * 4096
"""A weight of more entries is skipped: its randomized SVD would take tens of seconds here."""
CHECKPOINT_MAX_TOTAL_ENTRIES = 64 * 2**20
"""Entries of all analysed weights together (64 Mi: 64 weights of 1024×1024, or four of 4096×4096);
later weights are skipped once it is reached."""
