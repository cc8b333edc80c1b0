"""A script's result as JSON, made in the page: what JSON can hold, and a clear error for the rest.

Playwright's own transfer of a value fails on a cyclic object, a RegExp or an Error, turns a
Date into a datetime and lets NaN through: none of which our JSON output can hold. So the page
turns the value into JSON text itself, as the structured clone algorithm sees it where JSON has a
form for it, and stops early once the text passes the size limit (the transfer of tens of MB
would outlast any deadline):

    Date -> ISO 8601 string (an invalid Date -> null)   Map -> object (keys as strings)
    Set -> array     BigInt -> decimal string     NaN, Infinity -> null     undefined -> null
    RegExp -> "/source/flags"    Error -> {"name", "message"}    typed arrays -> arrays of numbers
    toJSON() is honoured as JSON.stringify does.

A cycle, a function, a symbol, a DOM node, a Window, a Promise or a WeakMap fails with the type
named and where it is (`$.items[3].el`).
"""

from __future__ import annotations

import json
from typing import Any

# ([script, maxBytes]) => {json} | {over} | {error}. The script runs as Playwright's evaluate runs
# it (its UtilityScript.evaluate: trimmed, a `function` wrapped in parentheses, a global eval, a
# function result called, a Promise awaited), so that the value never leaves the page before it is
# JSON: a primitive would otherwise cross the wire whole, and a BigInt be lost.
# Sizes count UTF-16 units as they go (an early stop), then the finished text's UTF-8 bytes exactly
# when it could be over the limit.
TO_JSON = r"""
async ([script, maxBytes]) => {
  let source = script.trim();
  if (/^(async)?\s*function(\s|\()/.test(source)) source = `(${source})`;
  let value = globalThis.eval(source);
  if (typeof value === "function") value = value();
  value = await value;
  const ancestors = new Set();
  let budget = maxBytes;
  class Refusal extends Error {}
  const spend = (n) => {
    budget -= n;
    if (budget < 0) throw new Refusal("over");
  };
  const where = (path) => path ? ` at ${path}` : " as the result";
  const kind = (v) => {
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    const name = v && v.constructor && typeof v.constructor.name === "string" ? v.constructor.name : "";
    return name && name !== tag && name !== "Object" ? `${tag} (${name})` : tag;
  };
  const convert = (v, path) => {
    switch (typeof v) {
      case "undefined": return null;
      case "boolean": spend(5); return v;
      case "number": spend(24); return Number.isFinite(v) ? v : null;
      case "bigint": { const s = v.toString(); spend(s.length + 2); return s; }
      case "string": spend(v.length + 2); return v;
      case "symbol": throw new Refusal(`a Symbol${where(path)}`);
      case "function": throw new Refusal(`a function${where(path)}`);
    }
    if (v === null) { spend(4); return null; }
    if (ancestors.has(v)) throw new Refusal(`a cyclic object${where(path)}`);
    if (typeof v.toJSON === "function" && !(v instanceof Date)) return convert(v.toJSON(), path);
    if (v instanceof Date) { spend(26); return Number.isNaN(v.getTime()) ? null : v.toISOString(); }
    if (v instanceof RegExp) { const s = String(v); spend(s.length + 2); return s; }
    if (v instanceof Error) return convert({ name: v.name, message: v.message }, path);
    if (typeof Node !== "undefined" && v instanceof Node) throw new Refusal(`a DOM node (${kind(v)})${where(path)}`);
    if (typeof Window !== "undefined" && v instanceof Window) throw new Refusal(`a Window${where(path)}`);
    if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
      throw new Refusal(`a ${kind(v)}${where(path)}`);
    }
    ancestors.add(v);
    try {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) v = Array.from(v);
      else if (v instanceof ArrayBuffer) v = Array.from(new Uint8Array(v));
      if (v instanceof Set) v = Array.from(v);
      if (Array.isArray(v)) {
        spend(2);
        return v.map((item, i) => { spend(1); return convert(item, `${path || "$"}[${i}]`); });
      }
      const out = {};
      const entries = v instanceof Map ? Array.from(v.entries()) : Object.entries(v);
      spend(2);
      for (const [key, item] of entries) {
        if (key !== null && (typeof key === "object" || typeof key === "function" || typeof key === "symbol")) {
          throw new Refusal(`a Map with a ${kind(key)} key${where(path)}`);
        }
        if (item === undefined) continue;  // as JSON.stringify: a key holding undefined is left out
        const name = String(key);
        spend(name.length + 4);
        out[name] = convert(item, `${path || "$"}.${name}`);
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  try {
    const text = JSON.stringify(convert(value, ""));
    if (text.length * 3 > maxBytes && new TextEncoder().encode(text).length > maxBytes) throw new Refusal("over");
    return { json: text };
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;  // the script's own error, or a getter's
    return e.message === "over" ? { over: true } : { error: e.message };
  }
}
"""


def decode(reply: Any, max_bytes: int) -> Any:
    """The value `TO_JSON` sent back, or ValueError saying why there is none."""
    if not isinstance(reply, dict):
        raise ValueError("the page sent no result")
    if "json" in reply:
        return json.loads(reply["json"])
    if reply.get("over"):
        raise ValueError(f"the result is larger than {max_bytes:,} bytes of JSON")
    raise ValueError(f"the result cannot be turned into JSON: {reply.get('error', 'unknown value')}")
