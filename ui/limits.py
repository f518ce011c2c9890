"""Every limit and cache budget of the app, in one place (the core has its own: ``lowrank_core.limits``).

Each limit says why it has its value. The server's upload limit (``SERVER_MAX_UPLOAD_MB``, the largest of
the pages' own) is also written in ``.streamlit/config.toml`` (``server.maxUploadSize``); a test keeps the
two equal.
"""

from __future__ import annotations

import os

from lowrank_core.checkpoint import CHECKPOINT_EXTENSIONS
from lowrank_core.limits import CHECKPOINT_MAX_FILE_BYTES

__all__ = [
    "MAX_UPLOAD_MB", "LAYER_MAX_UPLOAD_MB", "CHECKPOINT_MAX_UPLOAD_MB", "SERVER_MAX_UPLOAD_MB", "MAX_SEED",
    "MAX_PARAM_CHARS", "REMEMBERED_URLS",
    "MATRIX_UPLOAD_TYPES", "MAX_MATRIX_ENTRIES", "MAX_MATRIX_SIDE", "MAX_GRID_SIDE", "MAX_PASTE_CHARS",
    "NOISE_MAX", "MAX_HEATMAP_SIDE", "MAX_MEASURED_RANKS", "MEASURE_SPECTRAL_MAX_ENTRIES", "TOUR_MAX_SIDE",
    "IMAGE_UPLOAD_TYPES", "EXACT_MAX_PIXELS", "PREVIEW_RANK", "SSIM_SYNC_MAX_PIXELS", "DISPLAY_MAX_SIDE",
    "SHARP_PIXELS_SIDE", "DISPLAY_QUALITY", "THUMBNAIL_SIDE", "LAB_MAX_SIDE", "LAB_MAX_ENTRIES",
    "LAB_MAX_UPLOAD_SIDE",
    "MAX_SCATTER_POINTS", "MAX_SWEEP_FRAMES", "MAX_FRAME_SIDE", "MAX_QUIZ_ROUND", "MAX_JOBS", "EXACT_KEEP",
    "RD_KEEP", "CODEC_ENTRIES", "CODEC_TTL_SECONDS", "TILE_ENTRIES", "CACHE_ENTRIES",
    "TARGET_PSNR_RANGE", "CHECKPOINT_UPLOAD_TYPES",
    "CHECKPOINT_TIMING_BATCH", "CHECKPOINT_TTL_SECONDS", "STUDY_SEEDS",
    "STUDY_FRACTIONS", "STUDY_FINETUNE_EPOCHS", "SCRUBBER_READY_SECONDS", "SCRUBBER_POLL_SECONDS",
    "POLL_DB_ENV", "POLL_DB_DEFAULT",
    "POLL_TTL_SECONDS", "POLL_KEEP_SECONDS", "POLL_VOTE_INTERVAL_SECONDS", "MAX_POLL_VOTERS",
    "MAX_OPEN_POLLS", "MAX_ANSWER_CHARS", "ROOM_CODE_DIGITS", "POLL_REFRESH_SECONDS", "QUIZ_CHOICES",
    "QR_PIXELS", "QR_PRESENTER_PIXELS", "MAX_PENDING_JOBS", "SERVER_CORES",
    "WORK_SLOTS", "PER_SESSION_ENTRIES", "UNOWNED_KEEP_BYTES", "SESSION_GONE_SECONDS", "SESSION_TTL_SECONDS",
    "SESSION_REAP_SECONDS", "EXPORT_TIMEOUT_SECONDS",
]

# ------------------------------------------------------------------------------------------ every page
MAX_UPLOAD_MB = 25  # the image and matrix pages; the loaders add pixel and entry limits after it
LAYER_MAX_UPLOAD_MB = 16  # a 1024×1024 float64 .npy is 8 MB; the lab factors it on every new upload
CHECKPOINT_MAX_UPLOAD_MB = CHECKPOINT_MAX_FILE_BYTES // 2**20  # 256: the core's checkpoint limit (MiB, as
#                       Streamlit counts a megabyte), four 4096×4096 float32 weights
SERVER_MAX_UPLOAD_MB = max(MAX_UPLOAD_MB, LAYER_MAX_UPLOAD_MB, CHECKPOINT_MAX_UPLOAD_MB)  # config.toml: the
#                       server refuses larger bodies; each uploader passes its own page's limit
MAX_SEED = 2**31 - 1  # seeds typed into the pages (the core takes up to 2**63 - 1; a browser's numbers
#                       are exact only up to 2**53, so the widgets stop well below)
MAX_PARAM_CHARS = 64  # a query value longer than this is refused without being parsed
REMEMBERED_URLS = 16  # addresses a session remembers having written or seen (ui.links.incoming_params)

# --------------------------------------------------------------------------------- matrix explorer
MATRIX_UPLOAD_TYPES = ("csv", "tsv", "txt", "npy", "npz", "pt")
MAX_MATRIX_ENTRIES = 1_000_000  # uploads: 1000 × 1000 at most (the SVD then takes a few seconds on 2 cores)
MAX_MATRIX_SIDE = 1000  # generator sides, below the core's MAX_GENERATED_SIDE, for the same reason
MAX_GRID_SIDE = 30  # the typed grid
MAX_PASTE_CHARS = 40_000  # pasted text
NOISE_MAX = 1.0  # the added noise σ
MAX_HEATMAP_SIDE = 120  # heatmaps show at most this many rows and columns (evenly spaced)
MAX_MEASURED_RANKS = 25  # the error chart measures the reconstruction at this many ranks at most
MEASURE_SPECTRAL_MAX_ENTRIES = 40_000  # 200 × 200: the residual's spectral norm (an SVD) under ~20 ms

# ------------------------------------------------------------------------------------------- tour
TOUR_MAX_SIDE = 60  # m and n of the notebook's matrix

# ----------------------------------------------------------------------------------------- image page
IMAGE_UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif")
EXACT_MAX_PIXELS = 2_500_000  # H·W above which a randomized preview is shown first
PREVIEW_RANK = 100  # triplets kept by the randomized preview
SSIM_SYNC_MAX_PIXELS = 600_000  # H·W above which SSIM (~1 s per megapixel here) is computed on request only
DISPLAY_MAX_SIDE = 1024  # the reconstruction is shown at most this many pixels wide or high
# An image at most half this wide and high is sent enlarged by a whole factor with square pixels (an 8×8
# upload as 512×512), so the browser, which smooths what it stretches, cannot blur its pixels.
SHARP_PIXELS_SIDE = 512
DISPLAY_QUALITY = 90  # JPEG quality of what is sent to the browser
THUMBNAIL_SIDE = 150  # gallery images, shown at their own size
TARGET_PSNR_RANGE = (5.0, 90.0)  # dB the tiles mode's target-PSNR input and its link accept

# ----------------------------------------------------------------------------------------- layer page
LAB_MAX_SIDE = 1024  # generated weights: at most 1024 rows and columns
LAB_MAX_ENTRIES = 1 << 20  # uploaded weights: at most 1,048,576 numbers (the SVD takes about a second)
LAB_MAX_UPLOAD_SIDE = 4096  # and at most 4096 rows or columns, so a batch of outputs stays small
MAX_SCATTER_POINTS = 4000  # a scatter of z against z_r shows at most this many entries

# ------------------------------------------------------------------------------------ checkpoint page
CHECKPOINT_UPLOAD_TYPES = tuple(extension.lstrip(".") for extension in CHECKPOINT_EXTENSIONS)
CHECKPOINT_TIMING_BATCH = 64  # inputs per forward pass when a weight's dense and factored layers are timed
CHECKPOINT_TTL_SECONDS = 60 * 60  # read checkpoints and their exports are dropped after an hour unused
STUDY_SEEDS = (0, 1, 2)  # the digits accuracy-against-budget study: one trained MLP per seed (~10 s in all)
STUDY_FRACTIONS = (0.05, 0.1, 0.2, 0.35, 0.5)  # its budgets, as shares of the MLP's weight parameters
STUDY_FINETUNE_EPOCHS = 5  # its short fine-tune of the factors after compressing

# ------------------------------------------------------------------------------------ rank scrubber
SCRUBBER_READY_SECONDS = 15  # a scrubber silent this long after it was mounted counts as blocked (its
#                              script reports as soon as it runs: under a second; seconds on a busy machine)
SCRUBBER_POLL_SECONDS = 2  # how often a page waiting for the scrubber's "ready" checks the deadline

# ---------------------------------------------------------------------------------- workshop tools
MAX_SWEEP_FRAMES = 60  # a sweep shows (and a GIF holds) at most this many ranks
MAX_FRAME_SIDE = 512  # a GIF frame is at most this many pixels wide and high
MAX_QUIZ_ROUND = 1_000_000  # the quiz's round in a link
QUIZ_CHOICES = 4  # answers offered per round (the right one and three others, shuffled)
QR_PIXELS = 220  # the share box's QR code, on a laptop screen
QR_PRESENTER_PIXELS = 420  # and in the presenter view: phones at the back of a room read it from a projector

# ------------------------------------------------------------------------------------------ room poll
POLL_DB_ENV = "LOWRANK_POLL_DB"  # the environment variable that names the poll database (an SQLite file)
POLL_DB_DEFAULT = "data/polls.sqlite3"  # else this file under the project's root (data/ is ignored by git)
POLL_TTL_SECONDS = 60 * 60  # a poll takes votes for an hour (a workshop's session), then expires
POLL_KEEP_SECONDS = 24 * 60 * 60  # an expired poll's votes are dropped a day later (results can be reread)
POLL_VOTE_INTERVAL_SECONDS = 3  # a session may change its vote once per 3 s (one person, one vote, no flood)
MAX_POLL_VOTERS = 500  # voters a poll counts (a large lecture hall); the next is refused
MAX_OPEN_POLLS = 200  # polls open at once on a server; the next is refused until one expires or closes
MAX_ANSWER_CHARS = 40  # a typed answer ("a cup of coffee"); longer is refused, never cut silently
ROOM_CODE_DIGITS = 6  # a poll's room code: 10⁶ codes, guessed at one try per session every 3 s
POLL_REFRESH_SECONDS = 2  # the presenter's live histogram rereads the votes this often

# ---------------------------------------------------------------------- background jobs and caches
MAX_JOBS = 48  # finished background results kept on the board, all kinds together
MAX_PENDING_JOBS = 32  # queued and running jobs: each session has at most one exact SVD and one curve queued
#                        (a new one replaces the old), so 16 busy sessions; beyond, a job is refused as busy
EXACT_KEEP = 2  # finished exact codecs the board keeps (~150 MB each at 4 MP; each session holds its own)
RD_KEEP = 40  # finished rate–distortion curves (a few kB each): a room's images stay measured
# A room of ~8 people, each with their own photograph and perhaps two colour modes, must not evict each
# other's factorizations (each re-factorization costs seconds): 16 entries of at most ~150 MB (a 4-megapixel
# RGB image: U, Vh and a = U·diag(S) in float32) bound this cache near 2.4 GB; see docs/robustness.md.
CODEC_ENTRIES = 16
CODEC_TTL_SECONDS = 2 * 60 * 60
# The image page's tiles mode: a tile factorization holds U and Vh (each as large as the image in float32),
# the colour-space channels, the reference and the raw 8-bit tiles, ~200 MB for a 4-megapixel RGB image. It is
# cheap to redo (under a second at 1080p on 2 cores), so few are kept.
TILE_ENTRIES = 4
CACHE_ENTRIES = {  # max_entries of every other st.cache_* (each entry is small unless said)
    "notebook_run": 32,
    "matrix_source": 8,  # a matrix of up to 1,000,000 float32 entries (4 MB) and its SVD (~12 MB)
    "decoded_image": 8,  # decoded samples and uploads (at most 4 MP float32: 48 MB each)
    "display_jpeg": 64,  # JPEGs of shown reconstructions (~100 KB each)
    "original_jpeg": 8,
    "shown_pixels": 4,  # full-size 8-bit reconstructions (up to 12 MB each)
    "quality_numbers": 64,
    "original_sizes": 8,
    "error_jpeg": 16,
    "gallery": 8,
    "scrub_payload": 16,  # the scrubber's display factors, ≤ 4 MB each (lowrank_core.scrub): 64 MB at most
    "matrix_scrub_payload": 8,  # a matrix's shown factors (≤ 120 × 120 shown entries: ~0.2 MB each)
    "tile_compression": 8,  # a tile-coded image: its file and its 8-bit decode (up to 12 MB)
    "layer_slot": 40,  # trained models (a few hundred kB each): the base, 5 seeds × (full + 4 LoRA ranks)
    "layer_small": 4,  # splits, sweeps and spectra of the digits MLP
    "layer_weight": 16,  # generated lab weights and their SVD (up to 1024 × 1024)
    "layer_upload": 8,
    "layer_inputs": 16,
    "layer_summary": 64,
    "layer_timing": 2,
    # A read checkpoint holds its tensors (up to 256 MB): two, shared by every session, bounded by a ttl.
    "checkpoint_file": 2,
    "checkpoint_inspection": 8,  # singular values of every weight (a few MB at most)
    "checkpoint_detail": 32,  # one weight's curves (a few kB)
    "checkpoint_timing": 8,
    "checkpoint_allocation": 32,  # three allocations at one budget (a few kB)
    "checkpoint_export": 2,  # the factored file's bytes (at most the checkpoint's size)
    "checkpoint_study": 1,  # the digits accuracy study, once finished (a few kB)
    "qr_png": 32,  # QR pictures of links (a few kB each)
}

# ------------------------------------------------------------------------------------- a full room
SERVER_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
WORK_SLOTS = {  # expensive work running at once, server-wide; the rest waits in line, told its place
    "decode": SERVER_CORES,  # each decode is one single-threaded child process
    "factorize": SERVER_CORES,  # LAPACK's SVD keeps about one core busy (measured: one slot on two cores
    #                             halved the room's throughput against no limit at all)
    "export": 1,  # one kaleido Chromium for the server, one figure at a time
}
PER_SESSION_ENTRIES = {  # a session's share of the shared caches: its own oldest entry goes first
    "decoded_image": 2,  # the image now and the one before (switching back costs nothing)
    "codec": 3,  # an image in two colour modes, and a preview while its exact SVD runs
    "tile_factorization": 2,  # the tiles mode at two tile sides
}
UNOWNED_KEEP_BYTES = 16 * 2**20  # entries no session holds (a shipped sample: ~10 MB) kept up to this
SESSION_GONE_SECONDS = 20  # a session disconnected this long has ended: its jobs and cache shares are dropped
SESSION_TTL_SECONDS = 2 * 60 * 60  # a session that has not run for this long has ended (no runtime to ask)
SESSION_REAP_SECONDS = 5  # how often the server looks for sessions that ended
EXPORT_TIMEOUT_SECONDS = 60  # a chart export longer than this fails (the browser is then restarted)
