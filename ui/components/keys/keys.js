// Low-Rank Explorer presenter keys: one keydown listener on the page, installed once per browser tab.
//
// ←/→ and the digits move through the current page's sections: on a slide deck (a page that draws an
// element of class "st-key-presenter_slides", the tour in the presenter view) they go to Python as a
// step; elsewhere they scroll to the previous/next heading here, with no rerun. ↑/↓ go to Python as a
// rank step, P as a presenter toggle (ui/presenter/keys.py handles both before the page runs). ? shows
// the list of keys, Esc closes it. Keys typed into a field (text, number, slider, select) are left alone.

const HELP_ID = "low-rank-keys-help";
const KEYS = [
  ["← / →", "previous / next section (on the tour in the presenter view: its steps, one slide each)"],
  ["1 … 9", "jump to that step or section"],
  ["↑ / ↓", "raise / lower the rank"],
  ["P", "presenter view on / off"],
  ["?", "show or hide this list"],
  ["Esc", "close this list"],
];
const SLIDES_SELECTOR = ".st-key-presenter_slides";
const HEADINGS_SELECTOR = '[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] h3';
const TYPING_ROLES = new Set(["slider", "textbox", "spinbutton", "combobox", "listbox", "option", "searchbox"]);

const shared = window.__lowRankKeys || (window.__lowRankKeys = { send: null, installed: false });

function typingTarget(event) {
  const path = event.composedPath ? event.composedPath() : [event.target];
  return path.some((node) => {
    if (!node || node.nodeType !== 1) return false;
    const tag = node.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || node.isContentEditable) return true;
    return TYPING_ROLES.has(node.getAttribute("role"));
  });
}

function helpPanel() {
  let panel = document.getElementById(HELP_ID);
  if (panel) return panel;
  panel = document.createElement("div");
  panel.id = HELP_ID;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Keyboard shortcuts");
  panel.hidden = true;
  Object.assign(panel.style, {
    position: "fixed", right: "1.5rem", bottom: "1.5rem", zIndex: "1000000", maxWidth: "34rem",
    background: "#ffffff", color: "#111111", border: "2px solid #1f5fbf", borderRadius: "0.6rem",
    padding: "1rem 1.3rem", boxShadow: "0 0.5rem 2rem rgba(0, 0, 0, 0.25)",
    font: "1.15rem/1.5 system-ui, sans-serif",
  });
  const title = document.createElement("div");
  title.textContent = "Keyboard shortcuts";
  title.style.fontWeight = "700";
  title.style.marginBottom = "0.4rem";
  panel.appendChild(title);
  const table = document.createElement("table");
  table.style.borderCollapse = "collapse";
  for (const [keys, what] of KEYS) {
    const row = table.insertRow();
    const key = row.insertCell();
    key.textContent = keys;
    Object.assign(key.style, { fontWeight: "700", padding: "0.15rem 1rem 0.15rem 0", whiteSpace: "nowrap" });
    row.insertCell().textContent = what;
  }
  panel.appendChild(table);
  document.body.appendChild(panel);
  return panel;
}

function scrollToHeading(direction, index) {
  const headings = Array.from(document.querySelectorAll(HEADINGS_SELECTOR)).filter(
    (h) => h.offsetParent !== null && h.getBoundingClientRect().height > 0,
  );
  if (!headings.length) return;
  let target;
  if (index !== undefined) {
    target = headings[Math.min(index, headings.length - 1)];
  } else {
    const tops = headings.map((h) => h.getBoundingClientRect().top);
    if (direction > 0) target = headings[tops.findIndex((top) => top > 12)];
    else target = headings[tops.map((top) => top < -12).lastIndexOf(true)];
  }
  if (target) target.scrollIntoView({ block: "start", behavior: "instant" });
}

function send(action, value) {
  if (shared.send) shared.send("key", { action, value, at: Date.now() });
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const panel = helpPanel();
  if (event.key === "Escape" && !panel.hidden) {
    panel.hidden = true;
    return;
  }
  if (typingTarget(event)) return;
  const slides = document.querySelector(SLIDES_SELECTOR) !== null;
  const key = event.key;
  let handled = true;
  if (key === "?") panel.hidden = !panel.hidden;
  else if (key === "p" || key === "P") send("present", 1);
  else if (key === "ArrowUp") send("rank", 1);
  else if (key === "ArrowDown") send("rank", -1);
  else if (key === "ArrowRight" || key === "ArrowLeft") {
    const step = key === "ArrowRight" ? 1 : -1;
    if (slides) send("step", step);
    else scrollToHeading(step);
  } else if (/^[1-9]$/.test(key)) {
    if (slides) send("goto", Number(key));
    else scrollToHeading(0, Number(key) - 1);
  } else handled = false;
  if (handled) event.preventDefault();
}

export default function mount(component) {
  shared.send = component.setTriggerValue; // the latest mount's: Streamlit may remount the element
  if (!shared.installed) {
    document.addEventListener("keydown", onKey);
    shared.installed = true;
    document.documentElement.setAttribute("data-low-rank-keys", "ready"); // for the browser tests
  }
  return undefined;
}
