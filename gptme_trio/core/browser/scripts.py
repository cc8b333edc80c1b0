"""The JavaScript we run in pages, in one place: what the page reports and what we take from it.

    QUIET_TRACKER   init script (every document of every tab): counts the work a page has pending
                    (short setTimeouts, fast setIntervals until their first tick, fetch() and their
                    body reads, XMLHttpRequests, scripts it inserts) and notes when its DOM last
                    changed, when it last queued work for its next frame or task, and when a frame
                    last ran, in window.__gptmeTrioQuiet
    SETTLE          evaluate([cap_ms, quiet_ms]): a promise that resolves, after one frame (none
                    when a frame ran since the page last changed or queued such work, or it did
                    neither since DOMContentLoaded: a static page is quiet at once), once nothing
                    is pending and the DOM has not changed for quiet_ms, or at cap_ms
    DOCUMENT        evaluate({frames, overlays, part}): the document as HTML, with open shadow roots
                    (nested too) rendered in place (slots filled as the browser shows them),
                    same-origin frames inlined and marked, cross-origin ones as placeholders
                    (`frame_placeholder(k)`) when frames is true; with overlays true, consent
                    banners, modals and viewport-covering overlays are removed from the page first

Closed shadow roots cannot be read from a page's script: their text is not in what we return.
"""

from __future__ import annotations

QUIET_MS = 100  # the DOM unchanged and nothing pending this long: the page is settled
SHORT_TIMER_MS = 1000  # setTimeout delays up to this count as pending work (longer ones: not)
# setInterval: one faster than QUIET_MS is pending until its first tick; its later ticks show as changes

QUIET_TRACKER = r"""
(() => {
  if (window.__gptmeTrioQuiet) return;
  const SHORT = SHORT_TIMER_MS, QUIET = QUIET_WINDOW_MS;
  const origSet = window.setTimeout, origClear = window.clearTimeout;
  const origInterval = window.setInterval, origClearInterval = window.clearInterval;
  // last: when the DOM last changed or pending work last ended, from DOMContentLoaded on (the parse
  // itself is the wait condition's business): a page that changed nothing since has nothing to wait for.
  // queued: when the page last asked for work at its next frame or task (requestAnimationFrame, an
  // observer's observe(), postMessage); framed: the start of the last frame that ran after a change or
  // such a request (a frame is asked for at each). SETTLE skips its wait for a frame when framed is later.
  const raf = window.requestAnimationFrame;
  const state = {
    pending: 0, last: -Infinity, queued: -Infinity, framed: -Infinity, wake: null,
    setTimeout: origSet, clearTimeout: origClear, requestAnimationFrame: raf,
  };
  Object.defineProperty(window, '__gptmeTrioQuiet', { value: state });
  let framing = false;
  const frame = () => {
    if (framing || !raf) return;
    framing = true;
    raf.call(window, (at) => { framing = false; state.framed = at; });
  };
  const touch = () => { state.last = performance.now(); frame(); };
  const queue = () => { state.queued = performance.now(); frame(); };
  const noting = (owner, name) => {
    const fn = owner && owner[name];
    if (typeof fn === 'function') owner[name] = function (...args) { queue(); return fn.apply(this, args); };
  };
  noting(window, 'requestAnimationFrame');
  noting(window, 'postMessage');
  for (const name of ['IntersectionObserver', 'ResizeObserver', 'MessagePort']) {
    noting(window[name] && window[name].prototype, name === 'MessagePort' ? 'postMessage' : 'observe');
  }
  const begin = () => { state.pending++; };
  const end = () => {
    state.pending--;
    touch();
    if (state.pending <= 0 && state.wake) state.wake();
  };
  const once = () => { let done = false; return () => { if (!done) { done = true; end(); } }; };
  const timers = new Map();
  // A timer the page sets is pending until it first runs (or is cleared): a short setTimeout, and an
  // interval faster than the quiet window, since a page that loads in less than one period has not
  // changed yet but will (a clock, a ticker). Slower intervals are not: the page would be quiet between
  // their ticks anyway.
  const pendingUntilRun = (orig, fn, ms, args) => {
    const finish = once();
    const id = orig.call(window, function () {
      timers.delete(id);
      try { return fn.apply(this, arguments); } finally { finish(); }
    }, ms, ...args);
    timers.set(id, finish);
    begin();
    return id;
  };
  window.setTimeout = function (fn, ms, ...args) {
    if (typeof fn !== 'function' || !((Number(ms) || 0) <= SHORT)) return origSet.call(window, fn, ms, ...args);
    return pendingUntilRun(origSet, fn, ms, args);
  };
  window.setInterval = function (fn, ms, ...args) {
    if (typeof fn !== 'function' || !((Number(ms) || 0) < QUIET)) return origInterval.call(window, fn, ms, ...args);
    return pendingUntilRun(origInterval, fn, ms, args);
  };
  const cancel = (id) => { const finish = timers.get(id); if (finish) { timers.delete(id); finish(); } };
  window.clearTimeout = function (id) { cancel(id); return origClear.call(window, id); };
  window.clearInterval = function (id) { cancel(id); return origClearInterval.call(window, id); };
  const counted = (fn) => function (...args) {
    begin();
    const finish = once();
    let result;
    try { result = fn.apply(this, args); } catch (e) { finish(); throw e; }
    Promise.resolve(result).then(finish, finish);
    return result;
  };
  if (window.fetch) window.fetch = counted(window.fetch);
  if (window.Response) {
    for (const name of ['json', 'text', 'arrayBuffer', 'blob', 'formData']) {
      const fn = Response.prototype[name];
      if (fn) Response.prototype[name] = counted(fn);
    }
  }
  if (window.XMLHttpRequest) {
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (...args) {
      begin();
      const finish = once();
      this.addEventListener('loadend', finish);
      try { return send.apply(this, args); } catch (e) { finish(); throw e; }
    };
  }
  const watchScript = (node) => {
    begin();
    const finish = once();
    node.addEventListener('load', finish);
    node.addEventListener('error', finish);
  };
  const observer = new MutationObserver((records) => {
    touch();
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.localName === 'script' && node.src && !node.noModule) watchScript(node);
      }
    }
  });
  const start = () => { observer.observe(document, { childList: true, subtree: true, characterData: true }); frame(); };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
})();
""".replace("SHORT_TIMER_MS", str(SHORT_TIMER_MS)).replace("QUIET_WINDOW_MS", str(QUIET_MS))

SETTLE = r"""
([cap, quiet]) => new Promise((resolve) => {
  const s = window.__gptmeTrioQuiet;
  if (!s) { resolve('untracked'); return; }
  const t0 = performance.now();
  let timer = 0, due = Infinity;
  const check = () => {
    s.clearTimeout.call(window, timer);
    const now = performance.now(), left = cap - (now - t0), idle = now - s.last;
    // A check that ran well after its time: the page's thread was held up (a loaded machine), and
    // the page's own overdue timers may not have run yet, so its idle time says nothing: look again.
    const late = now - due > quiet / 2;
    if (left <= 0 || (s.pending <= 0 && idle >= quiet && !late)) {
      s.wake = null;
      resolve(left <= 0 ? 'cap' : 'quiet');
      return;
    }
    const wait = late ? 16 : Math.max(1, s.pending > 0 ? left : Math.min(quiet - idle, left));
    due = now + wait;
    timer = s.setTimeout.call(window, check, wait);
  };
  // First one frame (or 50 ms, for a page that renders no frames): work the page queued for its
  // next frame or task (requestAnimationFrame, MessageChannel) has then run, or shows as pending.
  // No wait when a frame has run since the page last changed or queued such work (the tracker's
  // framed), nor when it has done neither since DOMContentLoaded (a static page, read before its first
  // frame): after one task turn, a page that is done (most, at load) is quiet at once.
  let started = false;
  const begin = () => { if (!started) { started = true; s.wake = check; check(); } };
  const still = s.last === -Infinity && s.queued === -Infinity;
  const framed = still || (s.framed > -Infinity && s.framed >= Math.max(s.last, s.queued));
  if (framed) { s.setTimeout.call(window, begin, 0); return; }
  (s.requestAnimationFrame || requestAnimationFrame).call(window, () => s.setTimeout.call(window, begin, 0));
  s.setTimeout.call(window, begin, 50);
})
"""

# Known consent frameworks' containers (OneTrust, Cookiebot, Didomi, Quantcast, Usercentrics,
# TrustArc, Sourcepoint, Google Funding Choices, consentmanager, CookieYes, Osano, Cookie Law
# Info, CookieScript, Complianz, Borlabs, Iubenda, Klaro, Termly): removed wherever they are.
_CONSENT_SELECTORS = ", ".join(
    (
        "#onetrust-consent-sdk, #onetrust-banner-sdk, #onetrust-pc-sdk, .onetrust-pc-dark-filter",
        "#CybotCookiebotDialog, #CybotCookiebotDialogBodyUnderlay, #cookiebanner",
        "#didomi-host, #didomi-notice, #didomi-popup",
        "#qc-cmp2-container, .qc-cmp2-container, #qcCmpUi",
        "#usercentrics-root, #usercentrics-cmp-ui, #uc-center-container",
        "#truste-consent-track, #consent_blackbar, .truste_overlay, .truste_box_overlay, #trustarc-banner-overlay",
        "[id^='sp_message_container'], .fc-consent-root, #cmpbox, #cmpbox2",
        ".cky-consent-container, .cky-overlay, .cc-window, .cc-banner, #cookie-law-info-bar",
        "#cookiescript_injected, #cmplz-cookiebanner-container, #BorlabsCookieBox, #iubenda-cs-banner",
        ".klaro, #termly-code-snippet-support",
    )
)
# Generic tokens of overlay containers: where to look (beside the top of the tree), not what to remove.
_LOOK_AT = (
    "[role=dialog], [role=alertdialog], [aria-modal=true], dialog, [style*=fixed], [class*=modal], "
    "[class*=overlay], [class*=popup], [class*=cookie], [class*=consent], [id*=cookie], [id*=consent], "
    "[class*=newsletter], [class*=banner], [class*=paywall], [class*=gdpr]"
)

DOCUMENT = r"""
(opts) => {
  const CONSENT = "CONSENT_SELECTORS";
  const LOOK_AT = "LOOK_AT_SELECTORS";
  const CUE = new RegExp('cookie|consent|gdpr|ccpa|privacy|newsletter|subscribe|sign[ -]?up|sign[ -]?in'
                         + '|log[ -]?in|register|accept all|we use', 'i');
  const textOf = (el) => (el.textContent || '').length;
  const DIALOG = '[role=dialog], [role=alertdialog], [aria-modal=true], dialog';

  const removeOverlays = (doc) => {
    const body = doc.body, win = doc.defaultView;
    if (!body || !win) return;
    const vw = win.innerWidth || 1, vh = win.innerHeight || 1, total = textOf(body);
    const found = new Set(doc.querySelectorAll(CONSENT));
    const candidates = new Set(doc.querySelectorAll(LOOK_AT));
    const near = (el, depth) => {
      for (const child of el.children) { candidates.add(child); if (depth > 1) near(child, depth - 1); }
    };
    near(body, 4);
    for (const el of candidates) {
      if (found.has(el) || el === body) continue;
      const style = win.getComputedStyle(el), position = style.position, dialog = el.matches(DIALOG);
      if (!dialog && position !== 'fixed' && position !== 'sticky' && position !== 'absolute') continue;
      const rect = el.getBoundingClientRect();
      const w = Math.max(0, Math.min(rect.right, vw) - Math.max(rect.left, 0));
      const h = Math.max(0, Math.min(rect.bottom, vh) - Math.max(rect.top, 0));
      const covers = (w * h) / (vw * vh) >= 0.3;
      const cue = CUE.test(el.id + ' ' + el.className) || CUE.test((el.textContent || '').slice(0, 4000));
      const high = (parseInt(style.zIndex, 10) || 0) >= 1000;
      const overlay = position === 'fixed' ? covers || cue : position === 'sticky' ? covers : covers && high;
      // A dialog counts when it reads like a consent or sign-up box, or is shown over the page (out of
      // the flow, on screen): a hidden or in-flow one (a product's details drawer) hides nothing.
      const over = position !== 'static' && position !== 'relative' && w * h > 0 && style.visibility !== 'hidden';
      if (!(dialog && (cue || over)) && !overlay) continue;
      const length = textOf(el);
      // A container holding most of the page's text is the page (an app shell in a fixed box,
      // an article shown as a dialog): kept, unless it is short and reads like a consent or sign-up box.
      if (length >= 0.5 * total && (length > 5000 || !cue)) continue;
      found.add(el);
    }
    if (!found.size) return;
    for (const el of found) el.remove();
    for (const el of [doc.documentElement, body]) { el.style.removeProperty('overflow'); el.removeAttribute('inert'); }
    for (const el of doc.querySelectorAll('[aria-hidden=true], [inert]')) {
      if (textOf(el) > 200) { el.removeAttribute('aria-hidden'); el.removeAttribute('inert'); }
    }
  };

  const frameDoc = (el) => {
    try { const d = el.contentDocument; return d && d.documentElement ? d : null; } catch (e) { return null; }
  };
  const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param',
                        'source', 'track', 'wbr']);
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/\u00a0/g, '&nbsp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const escAttr = (s) => s.replace(/&/g, '&amp;').replace(/\u00a0/g, '&nbsp;').replace(/"/g, '&quot;');
  const isFrame = (el) => el.localName === 'iframe' || el.localName === 'frame';

  // What must be walked by hand: shadow hosts, slots in shadow trees, frames, and their ancestors
  // (through shadow roots to their hosts). Everything else is serialised by the browser (outerHTML).
  const needs = new Set();
  const mark = (node) => { while (node && !needs.has(node)) { needs.add(node); node = node.parentNode || node.host; } };
  const scan = (root, inShadow) => {
    const walker = (root.ownerDocument || root).createTreeWalker(root, 1);
    for (let el = walker.nextNode(); el; el = walker.nextNode()) {
      if (el.shadowRoot) { mark(el); scan(el.shadowRoot, true); }
      else if (inShadow && el.localName === 'slot') mark(el);
      else if (isFrame(el)) {
        const d = frameDoc(el);
        if (d) { mark(el); if (opts.overlays) removeOverlays(d); scan(d, false); }
        else if (opts.frames) mark(el);
      }
    }
  };

  let crossOrigin = 0;
  const out = [];
  const frameStart = (url) => '<section data-gptme-frame="' + escAttr(url) + '"><p>Frame ' + esc(url) + ':</p>';
  const serialize = (node) => {
    if (node.nodeType === 3) { out.push(esc(node.data)); return; }
    if (node.nodeType === 8) { out.push('<!--' + node.data + '-->'); return; }
    if (node.nodeType !== 1) return;
    if (!needs.has(node)) { out.push(node.outerHTML); return; }
    const tag = node.localName;
    if (tag === 'slot') {
      const assigned = node.assignedNodes();
      for (const child of (assigned.length ? assigned : node.childNodes)) serialize(child);
      return;
    }
    if (isFrame(node)) {
      const d = frameDoc(node);
      if (!d) {  // cross-origin: the caller reads that frame itself and puts it here
        node.setAttribute('data-gptme-frame', String(crossOrigin));
        out.push('<!--gptme-trio-frame:' + crossOrigin++ + '-->');
      } else if (d.body && (needs.has(d.body) || (d.body.textContent || '').trim())) {
        out.push(frameStart(d.URL));
        for (const child of d.body.childNodes) serialize(child);
        out.push('</section>');
      }
      return;
    }
    out.push('<' + tag);
    for (const a of node.attributes) out.push(' ' + a.name + '="' + escAttr(a.value) + '"');
    out.push('>');
    if (VOID.has(tag)) return;
    for (const child of (node.shadowRoot || node).childNodes) serialize(child);
    out.push('</' + tag + '>');
  };

  if (opts.overlays) removeOverlays(document);
  scan(document, false);
  if (opts.part === 'frame') {  // this document as a marked section, to stand in for its frame element
    if (!document.body) return '';
    out.push(frameStart(document.URL));
    for (const child of document.body.childNodes) serialize(child);
    out.push('</section>');
    return out.join('');
  }
  const dt = document.doctype;
  if (dt) out.push('<!DOCTYPE ' + dt.name + (dt.publicId ? ' PUBLIC "' + dt.publicId + '"' : '')
                   + (dt.systemId ? (dt.publicId ? '' : ' SYSTEM') + ' "' + dt.systemId + '"' : '') + '>');
  if (document.documentElement) serialize(document.documentElement);
  return out.join('');
}
""".replace("CONSENT_SELECTORS", _CONSENT_SELECTORS.replace('"', '\\"')).replace(
    "LOOK_AT_SELECTORS", _LOOK_AT.replace('"', '\\"')
)


# SETTLE, then DOCUMENT, in one call: ([cap, quiet, opts]) => HTML (Page.document with settle).
SETTLED_DOCUMENT = f"async ([cap, quiet, opts]) => {{ await ({SETTLE})([cap, quiet]); return ({DOCUMENT})(opts); }}"

FRAME_MARK = "<!--gptme-trio-frame:"  # how DOCUMENT's placeholders start (written in its JavaScript above)


def frame_placeholder(index: int) -> str:
    """What DOCUMENT leaves where the `index`th cross-origin frame goes (its element's data-gptme-frame)."""
    return f"{FRAME_MARK}{index}-->"
