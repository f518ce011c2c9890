// Low-Rank Explorer rank scrubber: draws every rank of an image (or a matrix's heatmaps) in the browser.
//
// One module, two kinds of mount (ui/components/scrubber/__init__.py makes both):
// - a carrier, whose `data` is the payload blob (bytes; lowrank_core/scrub.py documents the layout). It
//   parses the blob once and keeps it in this module's registry under its id. Its element is identical on
//   every rerun, so Streamlit's ForwardMsg cache sends it as a reference after the first time.
// - a scrubber, whose `data` is small JSON (the payload id, the slider's range, labels, commands). It draws
//   into a canvas by adding or removing rank-one terms a[:, t] b[t, :] in Float32 accumulators, with exact
//   partial sums ("checkpoints") every N ranks computed when idle, so a jump costs at most N/2 terms; a full
//   rebuild from a checkpoint when idle keeps rounding from drifting. The settled rank goes back to Python
//   as the component state "settled" (once per release or short idle), nothing while scrubbing.
//
// Conversion to 8 bits follows lowrank_core: YCbCr -> RGB with the header's matrix rounded to float32,
// clip to [0, 1], then trunc(x * 255 + 0.5) in float32 (to_uint8).

const MAGIC = 0x4253524c; // "LRSB" little-endian
const HEADER_BYTES = 256;
const SETTLE_MS = 250; // keys and typed numbers: the rank is sent after this much quiet
const REBUILD_MS = 1000; // after this much quiet the shown rank is rebuilt from a checkpoint (no drift)
const REBUILD_OPS = 64; // ... once this many terms were added or removed since the last exact state
// (float32 rounding: about 1e-7 of a value per term, so 64 terms move a pixel by < 0.01 grey levels)
const SLICE_MS = 6; // idle work (checkpoints) runs in slices of about this long
const CHECKPOINT_BYTES = 96 * 1024 * 1024; // memory for exact partial sums, all channels together
const MODES = ["rgb", "luminance", "ycbcr", "matrix"];
const VIEW_LABELS = { reconstruction: "Reconstruction", swipe: "Swipe", error: "Error ×8", original: "Original" };
const KEPT = [31, 95, 191];
const DROPPED = [184, 191, 204];

// ------------------------------------------------------------------------------------------- registry

const payloads = new Map(); // id -> Promise<payload>
const resolvers = new Map(); // id -> resolve, for scrubbers that ask before their carrier has run
const PAYLOADS_KEPT = 4;

function whenPayload(id) {
  if (!payloads.has(id)) {
    payloads.set(id, new Promise((resolve, reject) => resolvers.set(id, { resolve, reject })));
  }
  return payloads.get(id);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function registerBlob(bytes) {
  if (bytes.byteLength < HEADER_BYTES) return;
  const id = hex(bytes.subarray(8, 24));
  const waiting = resolvers.get(id);
  if (payloads.has(id) && !waiting) return; // already parsed (a rerun sends the same bytes again)
  const parsed = parsePayload(bytes);
  if (waiting) {
    resolvers.delete(id);
    parsed.then(waiting.resolve, waiting.reject);
  } else {
    payloads.set(id, parsed);
  }
  while (payloads.size > PAYLOADS_KEPT) payloads.delete(payloads.keys().next().value);
}

// -------------------------------------------------------------------------------------------- parsing

let HALF = null;
function halfTable() {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    HALF[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return HALF;
}

async function inflate(bytes) {
  if (typeof DecompressionStream === "undefined") throw new Error("this browser has no DecompressionStream");
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function parsePayload(source) {
  const buffer = source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength); // aligned
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== MAGIC || view.getUint16(4, true) !== 1) throw new Error("not a version-1 scrubber payload");
  const u8 = (o) => view.getUint8(o);
  const u32 = (o) => view.getUint32(o, true);
  const f64 = (o) => view.getFloat64(o, true);
  const p = {
    id: hex(new Uint8Array(buffer, 8, 16)),
    kind: u8(24) === 0 ? "image" : "matrix",
    mode: MODES[u8(25)],
    dtype: ["float32", "float16", "int8"][u8(26)],
    C: u8(27), outChannels: u8(28), groups: u8(29),
    groupOf: [u8(30), u8(31), u8(32), u8(33)],
    h: u32(36), w: u32(40), k: u32(44), codecRanks: u32(48), fullRank: u32(52),
    sourceH: u32(56), sourceW: u32(60), method: u8(64) === 0 ? "exact" : "randomized",
    matrix: Array.from({ length: 9 }, (_, i) => Math.fround(f64(72 + 8 * i))), // float32, as the core's einsum
    clipLow: f64(176), clipHigh: f64(184), scale: Math.fround(f64(192)), roundOffset: Math.fround(f64(200)),
    errorGain: f64(208), limit: f64(216),
  };
  const sections = {};
  for (let i = 0; i < view.getUint16(34, true); i++) {
    const at = HEADER_BYTES + 16 * i;
    const tag = String.fromCharCode(u8(at), u8(at + 1), u8(at + 2), u8(at + 3));
    sections[tag] = { dtype: u8(at + 4), encoding: u8(at + 5), offset: u32(at + 8), length: u32(at + 12) };
  }
  const typed = (tag) => {
    const s = sections[tag];
    if (!s) throw new Error(`the payload has no ${tag} section`);
    const Kind = [Float32Array, Uint16Array, Int8Array, Uint8Array, Int32Array][s.dtype];
    return new Kind(buffer, s.offset, s.length / Kind.BYTES_PER_ELEMENT);
  };
  const { C, k, h, w } = p;
  p.S = Float32Array.from(typed("SIGM"));
  const widen = (tag, scaleTag, length) => {
    const raw = typed(tag);
    if (p.dtype === "float32") return Float32Array.from(raw);
    if (p.dtype === "float16") {
      const table = halfTable();
      const out = new Float32Array(raw.length);
      for (let i = 0; i < raw.length; i++) out[i] = table[raw[i]];
      return out;
    }
    const scales = typed(scaleTag);
    const out = new Float32Array(raw.length);
    for (let t = 0; t < C * k; t++) {
      const s = scales[t];
      for (let i = t * length, end = i + length; i < end; i++) out[i] = Math.fround(raw[i] * s);
    }
    return out;
  };
  const resized = (values, length, outLength, startTag, weightTag) => {
    if (!sections[startTag]) return values;
    const start = typed(startTag);
    const weights = typed(weightTag);
    const taps = weights.length / outLength;
    const out = new Float32Array(C * k * outLength);
    for (let t = 0; t < C * k; t++) {
      const src = t * length;
      const dst = t * outLength;
      for (let i = 0; i < outLength; i++) {
        let sum = 0;
        const first = src + start[i];
        for (let j = 0; j < taps; j++) sum = Math.fround(sum + Math.fround(weights[i * taps + j] * values[first + j]));
        out[dst + i] = sum;
      }
    }
    return out;
  };
  const aLength = sections.RIDX ? p.sourceH : h;
  const bLength = sections.CIDX ? p.sourceW : w;
  p.a = resized(widen("AFAC", "ASCL", aLength), aLength, h, "RIDX", "RWGT"); // (C, k, h)
  p.b = resized(widen("BFAC", "BSCL", bLength), bLength, w, "CIDX", "CWGT"); // (C, k, w)
  if (p.kind === "image") {
    const s = sections.ORIG;
    const planes = await inflate(new Uint8Array(buffer, s.offset, s.length));
    if (planes.length !== p.outChannels * h * w) throw new Error("the original's planes have the wrong size");
    for (let c = 0; c < p.outChannels; c++) {
      const base = c * h * w;
      for (let i = 1; i < h; i++) {
        const row = base + i * w;
        for (let j = 0; j < w; j++) planes[row + j] = planes[row + j] + planes[row - w + j]; // Up filter, mod 256
      }
    }
    p.original = planes; // (C_out, h, w)
  } else {
    p.W = Float64Array.from(typed("WMAT"));
    p.lut = Uint8Array.from(typed("CLUT"));
    p.rows = Int32Array.from(typed("ROWS"));
    p.cols = Int32Array.from(typed("COLS"));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------- engine

// Accumulates the rank-r channels of an image payload: acc[c] = Σ_{t < rank[c]} a[c, t] ⊗ b[c, t].
class ImageEngine {
  constructor(p) {
    this.p = p;
    this.hw = p.h * p.w;
    this.acc = new Float32Array(p.C * this.hw);
    this.rank = new Int32Array(p.C); // rank held by acc, per channel
    this.ops = 0; // terms added or removed since the last exact state
    const perCheckpoint = p.C * this.hw * 4;
    const count = Math.max(1, Math.floor(CHECKPOINT_BYTES / perCheckpoint));
    this.every = Math.max(8, Math.ceil(p.k / count)); // N: a checkpoint every N ranks, and one at the cap
    this.stops = [];
    for (let r = this.every; r < p.k; r += this.every) this.stops.push(r);
    if (p.k > 0) this.stops.push(p.k);
    this.checkpoints = Array.from({ length: p.C }, () => new Map()); // rank -> Float32Array(hw) = Σ_{t < rank}
    this.work = null; // idle work: { c, rank, plane, stop }
  }

  // plane[row i] += sign · Σ_{t0 <= t < t1} a[c, t, i] · b[c, t, :] for one row (4-way unrolled).
  addRow(plane, rowOffset, c, i, t0, t1, sign) {
    const { a, b, h, w, k } = this.p;
    const end4 = w & ~3;
    for (let t = t0; t < t1; t++) {
      const s = sign * a[(c * k + t) * h + i];
      if (s === 0) continue;
      const bRow = (c * k + t) * w;
      let j = 0;
      for (; j < end4; j += 4) {
        const q = rowOffset + j;
        const r = bRow + j;
        plane[q] += s * b[r];
        plane[q + 1] += s * b[r + 1];
        plane[q + 2] += s * b[r + 2];
        plane[q + 3] += s * b[r + 3];
      }
      for (; j < w; j++) plane[rowOffset + j] += s * b[bRow + j];
    }
  }

  // plane (channel c, at offset) += sign · Σ_{t0 <= t < t1} a[c, t] ⊗ b[c, t]. Every entry gets its terms in
  // increasing t whatever the loop order, so a sum never depends on how it was reached.
  addTerms(plane, offset, c, t0, t1, sign) {
    const { h, w } = this.p;
    for (let i = 0; i < h; i++) this.addRow(plane, offset + i * w, c, i, t0, t1, sign);
  }

  nearestCheckpoint(c, target) {
    let best = 0; // rank 0: zeros, always there
    for (const rank of this.checkpoints[c].keys()) {
      if (Math.abs(rank - target) < Math.abs(best - target)) best = rank;
    }
    return best;
  }

  load(c, rank) {
    const offset = c * this.hw;
    if (rank === 0) this.acc.fill(0, offset, offset + this.hw);
    else this.acc.set(this.checkpoints[c].get(rank), offset);
    this.rank[c] = rank;
  }

  // Move every channel to its target: by steps from where it is, or from the nearest checkpoint if that is
  // shorter (one pass over the rows for all channels).
  moveTo(targets, { exact = false } = {}) {
    const { C, h, w } = this.p;
    const moves = [];
    for (let c = 0; c < C; c++) {
      const target = targets[c];
      const base = this.nearestCheckpoint(c, target);
      const viaCheckpoint = Math.abs(target - base) + 0.25; // a plane copy costs about a quarter of a term
      if (exact || viaCheckpoint < Math.abs(target - this.rank[c])) this.load(c, base);
      const from = this.rank[c];
      if (from !== target) moves.push([c, Math.min(from, target), Math.max(from, target), target > from ? 1 : -1]);
      this.ops += Math.abs(target - from);
      this.rank[c] = target;
    }
    for (let i = 0; i < h; i++) {
      for (const [c, t0, t1, sign] of moves) this.addRow(this.acc, c * this.hw + i * w, c, i, t0, t1, sign);
    }
    if (exact) this.ops = 0;
  }

  // One slice of idle work: extend the checkpoints upward. Returns false when all are done.
  idleSlice(deadline) {
    const { C } = this.p;
    while (performance.now() < deadline) {
      if (!this.work) {
        let c = 0;
        let index = 0;
        for (; c < C; c++) {
          index = 0;
          while (index < this.stops.length && this.checkpoints[c].has(this.stops[index])) index++;
          if (index < this.stops.length) break;
        }
        if (c === C) return false;
        const start = index === 0 ? 0 : this.stops[index - 1];
        const plane = new Float32Array(this.hw);
        if (start > 0) plane.set(this.checkpoints[c].get(start));
        this.work = { c, rank: start, plane, stop: this.stops[index] };
      }
      const wk = this.work;
      this.addTerms(wk.plane, 0, wk.c, wk.rank, wk.rank + 1, 1);
      wk.rank += 1;
      if (wk.rank === wk.stop) {
        this.checkpoints[wk.c].set(wk.stop, wk.plane);
        this.work = null;
      }
    }
    return true;
  }
}

// The matrix mode: Float64 accumulators of the shown entries (small: at most a few hundred a side).
class MatrixEngine {
  constructor(p) {
    this.p = p;
    this.acc = new Float64Array(p.h * p.w);
    this.rank = new Int32Array(1);
    this.ops = 0;
  }

  moveTo(targets, { exact = false } = {}) {
    const { a, b, h, w } = this.p;
    let from = this.rank[0];
    const target = targets[0];
    if (exact || target < from / 2) {
      this.acc.fill(0);
      from = 0;
      this.ops = 0;
    }
    const sign = target > from ? 1 : -1;
    for (let t = Math.min(from, target); t < Math.max(from, target); t++) {
      for (let i = 0; i < h; i++) {
        const s = sign * a[t * h + i];
        for (let j = 0; j < w; j++) this.acc[i * w + j] += s * b[t * w + j];
      }
    }
    if (!exact) this.ops += Math.abs(target - from);
    this.rank[0] = target;
  }

  idleSlice() {
    return false;
  }
}

// ------------------------------------------------------------------------------------------ drawing

function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// to_uint8 of a clipped value, in float32: trunc(fround(fround(x · 255) + 0.5)); NaN gives 0.
function byteOf(x, scale, offset) {
  const clipped = x < 0 ? 0 : x > 1 ? 1 : x;
  return Math.fround(Math.fround(clipped * scale) + offset) | 0;
}

// The rank-r image as little-endian RGBA words, one tight loop per colour mode.
function paintReconstruction(p, acc, pixels, first = 0, last = p.h * p.w) {
  const hw = p.h * p.w;
  const scale = p.scale;
  const offset = p.roundOffset;
  if (p.outChannels === 1) {
    for (let q = first; q < last; q++) {
      const g = byteOf(acc[q], scale, offset);
      pixels[q] = 0xff000000 | (g << 16) | (g << 8) | g;
    }
  } else if (p.mode === "ycbcr") {
    const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = p.matrix;
    const f = Math.fround;
    for (let q = first; q < last; q++) {
      const y = acc[q];
      const cb = acc[hw + q];
      const cr = acc[2 * hw + q];
      const r = byteOf(f(f(f(m0 * y) + f(m1 * cb)) + f(m2 * cr)), scale, offset);
      const g = byteOf(f(f(f(m3 * y) + f(m4 * cb)) + f(m5 * cr)), scale, offset);
      const b = byteOf(f(f(f(m6 * y) + f(m7 * cb)) + f(m8 * cr)), scale, offset);
      pixels[q] = 0xff000000 | (b << 16) | (g << 8) | r;
    }
  } else {
    for (let q = first; q < last; q++) {
      const r = byteOf(acc[q], scale, offset);
      const g = byteOf(acc[hw + q], scale, offset);
      const b = byteOf(acc[2 * hw + q], scale, offset);
      pixels[q] = 0xff000000 | (b << 16) | (g << 8) | r;
    }
  }
}

// The views: "reconstruction", "original", "swipe" (original left of the split), "error" (|x − x_r| × gain).
function paintImage(p, acc, pixels, view, split) {
  const hw = p.h * p.w;
  const orig = p.original;
  const grey = p.outChannels === 1;
  const originalAt = (q) => {
    const r = orig[q];
    const g = grey ? r : orig[hw + q];
    const b = grey ? r : orig[2 * hw + q];
    return 0xff000000 | (b << 16) | (g << 8) | r;
  };
  if (view === "original") {
    for (let q = 0; q < hw; q++) pixels[q] = originalAt(q);
    return;
  }
  paintReconstruction(p, acc, pixels);
  if (view === "error") {
    const gain = p.errorGain;
    for (let q = 0; q < hw; q++) {
      const word = pixels[q];
      const r = Math.min(255, Math.abs(orig[q] - (word & 255)) * gain);
      const g = grey ? r : Math.min(255, Math.abs(orig[hw + q] - ((word >>> 8) & 255)) * gain);
      const b = grey ? r : Math.min(255, Math.abs(orig[2 * hw + q] - ((word >>> 16) & 255)) * gain);
      pixels[q] = 0xff000000 | (b << 16) | (g << 8) | r;
    }
  } else if (view === "swipe") {
    const columns = Math.round(split * p.w);
    for (let i = 0; i < p.h; i++) {
      for (let q = i * p.w, end = q + columns; q < end; q++) pixels[q] = originalAt(q);
    }
  }
}

function paintHeatmap(p, values, pixels) {
  const last = p.lut.length / 3 - 1;
  for (let q = 0; q < values.length; q++) {
    let position = (values[q] / p.limit + 1) / 2;
    position = position < 0 ? 0 : position > 1 ? 1 : position;
    const index = 3 * roundHalfEven(position * last);
    pixels[q] = 0xff000000 | (p.lut[index + 2] << 16) | (p.lut[index + 1] << 8) | p.lut[index];
  }
}

// Pixels an element's top is below the top of the page when every scrolling box around it is at its start
// (Streamlit scrolls inside a container, and the scrubber lives in a shadow root).
function topAtRest(node) {
  let top = node.getBoundingClientRect().top;
  for (let up = node.parentNode || node.host; up; up = up.parentNode || up.host) {
    if (up.scrollTop) top += up.scrollTop;
  }
  return top;
}

function element(tag, className, parent, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (parent) parent.appendChild(node);
  return node;
}

// ------------------------------------------------------------------------------------------ scrubber

let uid = 0;

class Scrubber {
  constructor(parent) {
    this.parent = parent;
    this.props = {};
    this.seenCommand = -1;
    this.seenPlay = null;
    this.seenView = null;
    this.view = "reconstruction";
    this.split = 0.5;
    this.frames = 0;
    this.payload = null;
    this.engine = null;
    this.sentRank = null;
    this.dragging = false;
    this.timers = {};
    this.playing = null;
    this.failed = false;
    this.instance = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`; // this mount's id
    this.build();
  }

  // ---------------------------------------------------------------------------------- DOM
  build() {
    const id = `lrs-${++uid}`;
    this.root = element("div", "lrs-root", this.parent, { "data-status": "loading" });
    this.stage = element("div", "lrs-stage", this.root);
    this.panels = element("div", "lrs-panels", this.stage);
    this.divider = element("div", "lrs-divider", this.stage, { "aria-hidden": "true" });
    this.overlay = element("div", "lrs-overlay", this.stage, { role: "status" });
    this.overlay.hidden = true;
    this.message = element("div", "lrs-message", this.root, { role: "alert" });
    this.message.hidden = true;
    const controls = element("div", "lrs-controls", this.root);
    this.label = element("label", "lrs-label", controls, { for: id });
    this.range = element("input", "lrs-range", controls, { type: "range", id, min: "0", max: "1", step: "1" });
    this.number = element("input", "lrs-number", controls, { type: "number", step: "1", inputmode: "numeric" });
    this.of = element("span", "lrs-of", controls);
    this.play = element("button", "lrs-play", controls, { type: "button", "aria-pressed": "false" });
    this.play.textContent = "▶ Play";
    this.views = element("div", "lrs-views", controls, { role: "group", "aria-label": "View" });
    this.spectrum = element("canvas", "lrs-spectrum", this.root, { "aria-hidden": "true", height: "40" });
    this.spectrum.hidden = true;
    this.spectrumNote = element("div", "lrs-spectrum-note", this.root);
    this.spectrumNote.hidden = true;

    this.range.addEventListener("input", () => this.userRank(Number(this.range.value), "drag"));
    this.range.addEventListener("keydown", (event) => this.key(event));
    this.range.addEventListener("pointerdown", () => { this.dragging = true; this.stopPlay(); });
    this.onPointerUp = () => {
      if (!this.dragging) return;
      this.dragging = false;
      this.settle(0);
    };
    window.addEventListener("pointerup", this.onPointerUp);
    window.addEventListener("pointercancel", this.onPointerUp);
    this.onResize = () => this.fit();
    window.addEventListener("resize", this.onResize);
    this.range.addEventListener("change", () => this.settle(this.dragging ? null : SETTLE_MS));
    this.number.addEventListener("change", () => this.typed());
    this.number.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.typed();
    });
    this.play.addEventListener("click", () => (this.playing ? this.stopPlay() : this.startPlay()));
    this.stage.addEventListener("pointerdown", (event) => this.swipeStart(event));
  }

  destroy() {
    window.removeEventListener("pointerup", this.onPointerUp);
    window.removeEventListener("pointercancel", this.onPointerUp);
    window.removeEventListener("resize", this.onResize);
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.stopPlay();
    this.engine = null;
    this.payload = null;
  }

  // ---------------------------------------------------------------------------------- props
  update(props, setStateValue) {
    this.setStateValue = setStateValue;
    this.props = props;
    const min = props.min_rank ?? 0;
    const max = Math.max(min, props.max_rank ?? min);
    this.range.min = String(min);
    this.range.max = String(max);
    this.number.min = String(min);
    this.number.max = String(max);
    this.range.disabled = this.number.disabled = this.play.disabled = Boolean(props.disabled);
    this.label.textContent = props.label ?? "Rank";
    this.number.setAttribute("aria-label", `${props.label ?? "Rank"}, typed`);
    this.of.textContent = `of ${max}`;
    this.stage.style.aspectRatio = `${props.width} / ${props.height}`;
    this.fit();
    this.root.dataset.kind = props.kind;
    this.root.dataset.pixelated = props.pixelated ? "true" : "false";
    this.buildViews(props.kind === "matrix" ? ["reconstruction"] : props.views ?? ["reconstruction"]);
    const viewCommand = props.view_command ?? { view: props.view, nonce: 0 };
    if (viewCommand.view && viewCommand.nonce !== this.seenView) {
      this.seenView = viewCommand.nonce;
      this.view = viewCommand.view;
    }
    const command = props.command ?? { rank: min, nonce: 0 };
    if (command.nonce !== this.seenCommand) {
      this.seenCommand = command.nonce;
      this.stopPlay();
      this.setRank(command.rank);
      this.sentRank = this.rankValue;
    }
    if (this.failed) return;
    if (props.play !== undefined && props.play !== this.seenPlay) {
      const first = this.seenPlay === null; // a new instance (say, after a page switch) does not replay
      this.seenPlay = props.play;
      if (!first) this.startPlayWhenReady = true;
    }
    if (this.loadingId !== props.payload) this.loadPayload(props.payload);
    else if (this.engine) this.redraw();
    if (this.engine && this.startPlayWhenReady) {
      this.startPlayWhenReady = false;
      this.startPlay();
    }
  }

  buildViews(views) {
    const key = views.join(",");
    if (this.viewsKey === key) return this.markView();
    this.viewsKey = key;
    this.views.replaceChildren();
    this.views.hidden = views.length < 2;
    for (const name of views) {
      const button = element("button", "lrs-view", this.views, { type: "button", "data-view": name });
      button.textContent = VIEW_LABELS[name] ?? name;
      button.addEventListener("click", () => {
        if (this.view === name) return;
        this.view = name;
        this.markView();
        this.redraw();
        // the page keeps the view in its address: one rerun per click, nothing while scrubbing
        if (this.setStateValue) this.setStateValue("view", { view: name, seen: this.seenView });
      });
    }
    this.markView();
  }

  markView() {
    for (const button of this.views.children) {
      button.setAttribute("aria-pressed", String(button.dataset.view === this.view));
    }
    this.root.dataset.view = this.view;
    this.divider.hidden = this.view !== "swipe";
    this.divider.style.left = `${this.split * 100}%`;
  }

  // The picture's largest size: `max_height` pixels, and with `fit_viewport` what the window leaves below the
  // picture's top for the picture, its controls and the strip under it, so that all of it is on one screen
  // (never below `min_height`). Measured again on every update, on resize and shortly after each.
  fit({ again = true } = {}) {
    const props = this.props;
    const limits = [];
    if (props.max_height) limits.push(props.max_height);
    if (props.fit_viewport && this.stage.isConnected) {
      const below = this.root.getBoundingClientRect().bottom - this.stage.getBoundingClientRect().bottom;
      const room = window.innerHeight - topAtRest(this.stage) - below - (props.viewport_margin ?? 12);
      limits.push(Math.max(props.min_height ?? 160, Math.floor(room)));
    }
    const height = limits.length ? Math.min(...limits) : null;
    this.stage.style.maxHeight = height ? `${height}px` : "";
    this.stage.style.maxWidth = height && props.kind !== "matrix" ? `${Math.floor((height * props.width) / props.height)}px` : "";
    this.root.dataset.fitHeight = height ? String(height) : "";
    if (props.fit_viewport && again) { // once more after Streamlit has laid out what arrived with this run
      clearTimeout(this.timers.fit);
      this.timers.fit = setTimeout(() => this.fit({ again: false }), 400);
    }
  }

  // ---------------------------------------------------------------------------------- payload
  async loadPayload(id) {
    this.loadingId = id;
    this.root.dataset.status = "loading";
    if (!this.payload) this.showOverlay("Loading the factors…");
    let payload;
    try {
      if (!window.HTMLCanvasElement || !document.createElement("canvas").getContext("2d")) {
        throw new Error("this browser has no 2-D canvas");
      }
      // The script runs and can draw: say so once, now, not after the payload is parsed (seconds on a busy
      // machine), so that the page does not give up on it; a payload it cannot read is reported as "failed".
      if (!this.reported && this.setStateValue) this.setStateValue("status", { state: "ready", instance: this.instance });
      this.reported = true;
      payload = await whenPayload(id);
    } catch (error) {
      return this.fail(String(error && error.message ? error.message : error));
    }
    if (this.loadingId !== id) return;
    this.payload = payload;
    this.engine = payload.kind === "image" ? new ImageEngine(payload) : new MatrixEngine(payload);
    this.buildCanvases(payload);
    this.redraw({ exact: true });
    this.fit(); // the strip under the picture is there now
    this.root.dataset.status = "ready";
    this.root.dataset.cap = String(payload.k);
    this.idle();
    if (this.startPlayWhenReady) {
      this.startPlayWhenReady = false;
      this.startPlay();
    }
  }

  fail(reason) {
    this.failed = true;
    this.root.dataset.status = "failed";
    this.message.hidden = false;
    this.message.textContent = `The rank scrubber cannot draw in this browser (${reason}); the page shows the server's picture instead.`;
    this.overlay.hidden = true;
    if (this.setStateValue) this.setStateValue("status", { state: "failed", message: reason });
  }

  buildCanvases(p) {
    this.panels.replaceChildren();
    this.canvases = [];
    const names = p.kind === "image" ? ["image"] : ["W", "W_r", "W − W_r"];
    for (const name of names) {
      const figure = element("figure", "lrs-panel", this.panels);
      const caption = p.kind === "matrix" ? element("figcaption", "lrs-title", figure) : null;
      if (caption) caption.textContent = name;
      const canvas = element("canvas", "lrs-canvas", figure, { width: String(p.w), height: String(p.h), "data-panel": name });
      canvas.style.aspectRatio = `${p.w} / ${p.h}`;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      if (!context) {
        this.canvases = null;
        return this.fail("this browser has no 2-D canvas");
      }
      const image = context.createImageData(p.w, p.h);
      this.canvases.push({ canvas, context, image, pixels: new Uint32Array(image.data.buffer), caption });
    }
    if (p.kind === "matrix") {
      this.colourBar(p);
      this.paintMatrixPanel(0, p.W);
    }
    this.stage.style.aspectRatio = p.kind === "image" ? `${p.w} / ${p.h}` : "";
  }

  colourBar(p) {
    const bar = element("div", "lrs-colourbar", this.panels);
    const canvas = element("canvas", "lrs-colourbar-scale", bar, { width: String(p.lut.length / 3), height: "1" });
    const context = canvas.getContext("2d");
    const image = context.createImageData(p.lut.length / 3, 1);
    for (let i = 0; i < p.lut.length / 3; i++) {
      image.data.set([p.lut[3 * i], p.lut[3 * i + 1], p.lut[3 * i + 2], 255], 4 * i);
    }
    context.putImageData(image, 0, 0);
    const labels = element("div", "lrs-colourbar-labels", bar);
    for (const value of [-p.limit, 0, p.limit]) element("span", "", labels).textContent = Number(value.toPrecision(3)).toString();
  }

  paintMatrixPanel(index, values) {
    const panel = this.canvases[index];
    paintHeatmap(this.payload, values, panel.pixels);
    panel.context.putImageData(panel.image, 0, 0);
  }

  // ---------------------------------------------------------------------------------- ranks
  get rankValue() {
    return Number(this.range.value);
  }

  clampRank(value) {
    const min = Number(this.range.min);
    const max = Number(this.range.max);
    if (!Number.isFinite(value)) return this.rankValue;
    return Math.min(max, Math.max(min, Math.round(value)));
  }

  setRank(value) {
    const rank = this.clampRank(value);
    this.range.value = String(rank);
    this.number.value = String(rank);
    const max = Number(this.range.max);
    this.range.setAttribute("aria-valuetext", `${this.props.valuetext ?? "rank"} ${rank} of ${max}`);
    this.root.dataset.rank = String(rank);
    return rank;
  }

  // Ranks per channel for the slider's rank: the slider moves one group (or all), the others stay.
  channelRanks(rank) {
    const p = this.payload;
    const cap = Math.min(p.k, this.props.available ?? p.k);
    const fixed = this.props.ranks ?? [];
    const group = this.props.group;
    const out = [];
    for (let c = 0; c < p.C; c++) {
      const g = p.groupOf[c];
      const r = group === null || group === undefined || group === g ? rank : fixed[g] ?? rank;
      out.push(Math.max(0, Math.min(cap, r)));
    }
    return out;
  }

  userRank(value, source) {
    this.stopPlay();
    const rank = this.setRank(value);
    this.redraw();
    if (source !== "drag" || !this.dragging) this.settle(SETTLE_MS);
    return rank;
  }

  key(event) {
    const min = Number(this.range.min);
    const max = Number(this.range.max);
    const page = Math.max(1, Math.round((max - min) / 10));
    const moves = {
      ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: page, PageDown: -page,
    };
    let target;
    if (event.key in moves) target = this.rankValue + moves[event.key];
    else if (event.key === "Home") target = min;
    else if (event.key === "End") target = max;
    else return;
    event.preventDefault();
    this.userRank(target, "key");
  }

  typed() {
    const value = Number.parseFloat(this.number.value);
    if (!Number.isFinite(value)) {
      this.number.value = String(this.rankValue);
      return;
    }
    this.userRank(value, "typed");
  }

  // Send the rank to Python after `delay` ms of quiet (null: wait for the pointer to be released).
  settle(delay) {
    clearTimeout(this.timers.settle);
    if (delay === null) return;
    this.timers.settle = setTimeout(() => {
      if (this.dragging || this.playing) return;
      const rank = this.rankValue;
      if (rank === this.sentRank || !this.setStateValue) return;
      this.sentRank = rank;
      const ranks = this.payload ? this.groupRanks(rank) : [rank];
      this.setStateValue("settled", { rank, ranks, seen: this.seenCommand });
    }, delay);
  }

  groupRanks(rank) {
    const out = [];
    for (let g = 0; g < this.payload.groups; g++) {
      const group = this.props.group;
      out.push(group === null || group === undefined || group === g ? rank : (this.props.ranks ?? [])[g] ?? rank);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------- drawing
  redraw({ exact = false } = {}) {
    if (!this.engine || !this.canvases) return;
    const p = this.payload;
    const rank = this.rankValue;
    const targets = this.channelRanks(rank);
    const t0 = performance.now();
    this.engine.moveTo(targets, { exact });
    const t1 = performance.now();
    if (p.kind === "image") {
      const panel = this.canvases[0];
      paintImage(p, this.engine.acc, panel.pixels, this.view, this.split);
      const t2 = performance.now();
      panel.context.putImageData(panel.image, 0, 0);
      this.root.dataset.timing = `${(t1 - t0).toFixed(1)},${(t2 - t1).toFixed(1)},${(performance.now() - t2).toFixed(1)}`;
    } else {
      const low = this.engine.acc;
      const residual = new Float64Array(low.length);
      for (let q = 0; q < low.length; q++) residual[q] = p.W[q] - low[q];
      this.paintMatrixPanel(1, low);
      this.paintMatrixPanel(2, residual);
      this.canvases[1].caption.textContent = `W_r (r = ${targets[0]})`;
    }
    this.frames += 1;
    this.root.dataset.frame = String(this.frames);
    this.root.dataset.drawnRank = targets.join(",");
    this.markView();
    const cap = Math.min(p.k, this.props.available ?? p.k);
    const groupRank = this.groupRanks(rank);
    if (Math.max(...groupRank) > cap) {
      // the server holds more ranks soon (a randomized preview, or `available` below the blob's cap), or
      // the blob stops at its cap (the page shows such ranks from the server)
      const pending = p.method === "randomized" || cap < p.k;
      const text = pending ? this.props.unavailable_text : this.props.beyond_text;
      this.showOverlay(`${text ?? "Not drawn here"} (showing rank ${cap})`);
    } else {
      this.overlay.hidden = true;
    }
    this.drawSpectrum(groupRank);
    clearTimeout(this.timers.rebuild);
    this.timers.rebuild = setTimeout(() => this.rebuild(), REBUILD_MS);
  }

  rebuild() {
    if (!this.engine || this.dragging || this.playing) return;
    if (this.engine.ops >= REBUILD_OPS) this.redraw({ exact: true });
    clearTimeout(this.timers.rebuild);
    this.idle();
  }

  showOverlay(text) {
    this.overlay.textContent = text;
    this.overlay.hidden = false;
  }

  drawSpectrum(groupRank) {
    if (!this.props.spectrum) return;
    const p = this.payload;
    const canvas = this.spectrum;
    canvas.hidden = false;
    const group = this.props.group ?? 0;
    let channel = 0;
    while (channel < p.C - 1 && p.groupOf[channel] !== group) channel++;
    const count = p.codecRanks;
    const width = Math.max(200, Math.min(1200, count * 2));
    if (canvas.width !== width) canvas.width = width;
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    const values = p.S.subarray(channel * count, (channel + 1) * count);
    const top = Math.log10(Math.max(values[0], 1e-30));
    const bottom = Math.log10(Math.max(values[count - 1], values[0] * 1e-8, 1e-30));
    const kept = groupRank[group] ?? groupRank[0];
    if (this.props.spectrum_label) {
      this.spectrumNote.hidden = false;
      this.spectrumNote.textContent = this.props.spectrum_label.replace("{kept}", String(Math.min(kept, count)));
    }
    for (let i = 0; i < count; i++) {
      const level = (Math.log10(Math.max(values[i], 1e-30)) - bottom) / Math.max(top - bottom, 1e-12);
      const height = Math.max(1, level * (canvas.height - 2));
      const [r, g, b] = i < kept ? KEPT : DROPPED;
      context.fillStyle = `rgb(${r},${g},${b})`;
      context.fillRect((i * canvas.width) / count, canvas.height - height, Math.max(1, canvas.width / count), height);
    }
  }

  // ---------------------------------------------------------------------------------- idle work
  idle() {
    clearTimeout(this.timers.idle);
    if (!this.engine) return;
    this.timers.idle = setTimeout(() => {
      if (this.dragging || this.playing) return this.idle();
      if (this.engine && this.engine.idleSlice(performance.now() + SLICE_MS)) this.idle();
      else if (this.root) this.root.dataset.checkpoints = "done";
    }, 0);
  }

  // ---------------------------------------------------------------------------------- swipe
  swipeStart(event) {
    if (this.view !== "swipe" || !this.payload) return;
    const move = (e) => {
      const box = this.panels.getBoundingClientRect();
      this.split = Math.min(1, Math.max(0, (e.clientX - box.left) / Math.max(1, box.width)));
      this.redraw();
    };
    move(event);
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  // ---------------------------------------------------------------------------------- play
  startPlay() {
    if (!this.engine) {
      this.startPlayWhenReady = true;
      return;
    }
    this.stopPlay();
    const min = Math.max(1, Number(this.range.min));
    const current = this.rankValue;
    const cap = Math.min(this.payload.k, this.props.available ?? this.payload.k, Number(this.range.max));
    const end = current > min + 1 ? Math.min(current, Number(this.range.max)) : cap;
    const seconds = this.props.play_seconds ?? 4;
    const started = performance.now();
    this.playing = { end };
    this.play.setAttribute("aria-pressed", "true");
    this.play.textContent = "■ Stop";
    this.root.dataset.playing = "true";
    const frame = () => {
      if (!this.playing) return;
      const progress = Math.min(1, (performance.now() - started) / (seconds * 1000));
      this.setRank(Math.round(min + (end - min) * progress));
      this.redraw();
      if (progress < 1) this.playing.frame = requestAnimationFrame(frame);
      else {
        this.stopPlay();
        this.settle(0);
      }
    };
    this.setRank(min);
    this.redraw();
    this.playing.frame = requestAnimationFrame(frame);
  }

  stopPlay() {
    if (!this.playing) return;
    cancelAnimationFrame(this.playing.frame);
    this.playing = null;
    this.play.setAttribute("aria-pressed", "false");
    this.play.textContent = "▶ Play";
    delete this.root.dataset.playing;
  }
}

// --------------------------------------------------------------------------------------------- mount

const instances = new WeakMap(); // parentElement -> Scrubber (kept across re-invocations with new data)

export default function mount(component) {
  const { data, parentElement, setStateValue } = component;
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    registerBlob(data instanceof Uint8Array ? data : new Uint8Array(data));
    return undefined;
  }
  if (!data || typeof data !== "object" || !data.payload) return undefined;
  let scrubber = instances.get(parentElement);
  if (!scrubber) {
    scrubber = new Scrubber(parentElement);
    instances.set(parentElement, scrubber);
  }
  clearTimeout(scrubber.timers.destroy);
  try {
    scrubber.update(data, setStateValue);
  } catch (error) {
    scrubber.fail(String(error && error.message ? error.message : error));
  }
  return () => {
    // Streamlit calls this before re-invoking with new data, and on unmount: free only if not re-invoked.
    scrubber.timers.destroy = setTimeout(() => {
      if (!parentElement.isConnected && !(parentElement.host && parentElement.host.isConnected)) {
        scrubber.destroy();
        instances.delete(parentElement);
      }
    }, 2000);
  };
}
