/**
 * A few DOM helpers: element builders for HTML and SVG, and `morph`, which updates a live tree
 * in place from a freshly rendered one so that polling keeps focus, scroll and open details.
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/** Builds an HTML element: `h("a", { href: "#/" }, "Home")`. Falsy children are skipped. */
export function h(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** Builds an SVG element, with the same conventions as `h`. */
export function svg(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Makes `live` look like `fresh` while keeping the nodes that did not change kind. Listeners are
 * not copied: views use delegated handlers on stable ancestors, keyed by `data-action`.
 */
export function morph(live, fresh) {
  const liveChildren = [...live.childNodes];
  const freshChildren = [...fresh.childNodes];

  freshChildren.forEach((freshChild, index) => {
    const liveChild = liveChildren[index];
    if (!liveChild) {
      live.append(freshChild);
    } else if (!sameKind(liveChild, freshChild)) {
      live.replaceChild(freshChild, liveChild);
    } else if (liveChild.nodeType === Node.ELEMENT_NODE) {
      syncAttributes(liveChild, freshChild);
      morph(liveChild, freshChild);
    } else if (liveChild.nodeValue !== freshChild.nodeValue) {
      liveChild.nodeValue = freshChild.nodeValue;
    }
  });
  for (const extra of liveChildren.slice(freshChildren.length)) extra.remove();
}

function sameKind(a, b) {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType !== Node.ELEMENT_NODE) return true;
  return a.namespaceURI === b.namespaceURI && a.tagName === b.tagName && a.id === b.id;
}

function syncAttributes(live, fresh) {
  for (const { name } of [...live.attributes]) {
    if (!fresh.hasAttribute(name) && !(name === "open" && live.tagName === "DETAILS")) {
      live.removeAttribute(name);
    }
  }
  for (const { name, value } of [...fresh.attributes]) {
    if (live.getAttribute(name) !== value) live.setAttribute(name, value);
  }
}
