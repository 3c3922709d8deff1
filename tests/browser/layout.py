"""Layout checks run by Chromium on the page it has laid out (JavaScript on the real boxes).

Each function returns a list of problems (empty: fine), each a short text naming the element and
its text, so an assertion message says what to look at in the screenshot.
"""

from __future__ import annotations

# All visible text fragments (one rect per line of each text node), with the node's cell or block.
_FRAGMENTS = r"""
function fragments(root) {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim()) continue;
    // closed <details> keep their content laid out but hidden: not on the page
    if (!node.parentElement.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width < 0.5 || r.height < 0.5) continue;
      out.push({node, left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY, bottom: r.bottom + scrollY});
    }
  }
  return out;
}
function label(node) {
  const el = node.parentElement;
  return `<${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className : ''}> ` +
         JSON.stringify(node.data.trim().slice(0, 50));
}
"""

OVERFLOW = r"""
const doc = document.documentElement;
const problems = [];
if (doc.scrollWidth > doc.clientWidth + 1) problems.push(`page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px viewport`);
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width && r.right > doc.clientWidth + 1) {
    problems.push(`<${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className : ''}> ends at ${Math.round(r.right)}px: ` + JSON.stringify((el.textContent || '').trim().slice(0, 50)));
    if (problems.length > 20) break;
  }
}
return problems;
"""

OVERLAP = _FRAGMENTS + r"""
const frags = fragments(document.body).sort((a, b) => a.top - b.top);
const problems = [];
const tol = 1;  // px: glyph boxes of neighbouring lines may touch
for (let i = 0; i < frags.length && problems.length < 20; i++) {
  const a = frags[i];
  for (let j = i + 1; j < frags.length && frags[j].top < a.bottom - tol; j++) {
    const b = frags[j];
    if (a.node === b.node) continue;
    const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (dx > tol && dy > tol) problems.push(`${label(a.node)} overlaps ${label(b.node)}`);
  }
}
// text that leaves its table cell runs into the next column
for (const f of frags) {
  const cell = f.node.parentElement.closest('td, th');
  if (!cell || problems.length >= 40) continue;
  const c = cell.getBoundingClientRect();
  if (f.left < c.left + scrollX - tol || f.right > c.right + scrollX + tol) problems.push(`${label(f.node)} leaves its cell`);
}
return problems;
"""

# Words (runs without white space) of the elements matched by arguments[0] that the layout put on
# more than one line: a word broken mid-word. With arguments[1] true a word may break after a dot,
# hyphen, colon, slash or @ (between the labels of a host name), never inside a label.
BROKEN_WORDS = _FRAGMENTS + r"""
const problems = [];
const pieces = arguments[1] ? /[^\s.\-:\/@]+[.\-:\/@]*|[.\-:\/@]+/g : /\S+/g;
for (const el of document.querySelectorAll(arguments[0])) {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.checkVisibility({visibilityProperty: true})) continue;
    for (const m of node.data.matchAll(pieces)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set();
      for (const r of range.getClientRects()) if (r.width > 0.5) tops.add(Math.round(r.top / 3));
      if (tops.size > 1) problems.push(`${JSON.stringify(m[0])} in ${label(node)} is broken over ${tops.size} lines`);
    }
  }
}
return problems;
"""

# An SVG picture inside the page's width, each of its texts inside the picture and clear of the
# others, and its smallest text at least arguments[1] px tall on screen.
SVG_FITS = r"""
const problems = [];
const svg = document.querySelector(arguments[0]);
if (!svg) return [`no ${arguments[0]}`];
const s = svg.getBoundingClientRect();
const width = document.documentElement.clientWidth;
if (s.left < -1 || s.right > width + 1) problems.push(`${arguments[0]} spans ${Math.round(s.left)}..${Math.round(s.right)}px of ${width}px`);
let smallest = Infinity;
for (const t of svg.querySelectorAll('text')) {
  const r = t.getBoundingClientRect();
  if (!r.width) continue;
  smallest = Math.min(smallest, r.height);
  if (r.left < s.left - 1 || r.right > s.right + 1) problems.push(`${JSON.stringify(t.textContent.slice(0, 40))} sticks out of ${arguments[0]}`);
}
// the picture's own texts never touch (row names, totals after the bars, legend)
const boxes = [...svg.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()]).filter(([, r]) => r.width);
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const [ta, a] = boxes[i], [tb, b] = boxes[j];
  if (Math.min(a.right, b.right) > Math.max(a.left, b.left) && Math.min(a.bottom, b.bottom) > Math.max(a.top, b.top))
    problems.push(`${JSON.stringify(ta.textContent.slice(0, 30))} touches ${JSON.stringify(tb.textContent.slice(0, 30))} in ${arguments[0]}`);
}
if (smallest < arguments[1]) problems.push(`${arguments[0]}: text only ${smallest.toFixed(1)}px tall on screen (want >= ${arguments[1]})`);
return problems;
"""

# Elements whose background would print dark (relative luminance below arguments[0]), larger than a badge.
DARK_BACKGROUNDS = r"""
function luminance(css) {
  const m = css.match(/rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/);
  if (!m || (m[4] !== undefined && parseFloat(m[4]) < 0.05)) return 1;  // transparent
  const [r, g, b] = [m[1], m[2], m[3]].map(v => { v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const problems = [];
for (const el of [document.documentElement, document.body, ...document.body.querySelectorAll('*')]) {
  const lum = luminance(getComputedStyle(el).backgroundColor);
  if (lum < arguments[0]) {
    const r = el.getBoundingClientRect();
    problems.push(`<${el.tagName.toLowerCase()}> ${Math.round(r.width)}x${Math.round(r.height)} has a dark background (luminance ${lum.toFixed(2)})`);
  }
}
return problems.slice(0, 20);
"""


def problems(driver, script: str, *args) -> list[str]:
    return list(driver.execute_script(script, *args))


def emulate_print(driver, on: bool) -> None:
    """Lay the page out with the print style sheet (as Page.printToPDF will) or back on screen."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print" if on else ""})
