/**
 * The dashboard shell: the admin key, a hash router over the views, and the live refresh. Every
 * 3 s the open view is loaded again and morphed into place; polling stops while the tab is
 * hidden or the user pauses it.
 */
import { forgetKey, storedKey, storeKey, UnauthorizedError } from "./api.js";
import { h, morph } from "./dom.js";
import * as format from "./format.js";
import { openPreview } from "./preview.js";
import { loginView } from "./views/login.js";
import { overviewView } from "./views/overview.js";
import { scenarioView } from "./views/scenario.js";
import { activityView } from "./views/activity.js";
import { contactsView } from "./views/contacts.js";
import { contactView } from "./views/contact.js";

const REFRESH_INTERVAL_MS = 3000;

const ROUTES = [
  { pattern: /^\/?$/, section: "scenarios", view: overviewView },
  { pattern: /^\/scenarios\/?$/, section: "scenarios", view: overviewView },
  { pattern: /^\/scenarios\/([^/]+)$/, section: "scenarios", view: scenarioView, names: ["id"] },
  { pattern: /^\/activity\/?$/, section: "activity", view: activityView },
  { pattern: /^\/contacts\/?$/, section: "contacts", view: contactsView },
  { pattern: /^\/contacts\/([^/]+)$/, section: "contacts", view: contactView, names: ["id"] },
];

const viewRoot = document.getElementById("view");
const liveStatus = document.getElementById("live-status");
const liveToggle = document.getElementById("live-toggle");
const shell = document.body;

let renderToken = 0;
let refreshTimer = null;
let paused = false;

/** The route of the current hash: its view, section, path parameters and query parameters. */
function currentRoute() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(new URLSearchParams(query));
    (route.names ?? []).forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1]);
    });
    return { ...route, params };
  }
  return null;
}

/** A `?key=` in the page address is stored, then removed so it is not left in the history. */
function adoptKeyFromAddress() {
  const url = new URL(location.href);
  const key = url.searchParams.get("key");
  if (!key) return;
  storeKey(key);
  url.searchParams.delete("key");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

function showLogin(message) {
  renderToken += 1;
  clearTimeout(refreshTimer);
  shell.classList.add("is-signed-out");
  document.title = "Sign in · Parcours";
  viewRoot.replaceChildren(
    loginView({
      message,
      onKey: (key) => {
        storeKey(key);
        shell.classList.remove("is-signed-out");
        if (!location.hash || location.hash === "#/") void render({ fresh: true });
        else location.hash = "#/";
      },
    }),
  );
  viewRoot.querySelector("input")?.focus();
}

function markSection(section) {
  for (const link of document.querySelectorAll("[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function setLive(state, detail = "") {
  liveStatus.parentElement.dataset.state = state;
  liveStatus.textContent = detail;
}

/** Loads and draws the current route; `fresh` replaces the view, else it is morphed in place. */
async function render({ fresh }) {
  clearTimeout(refreshTimer);
  if (!storedKey()) return showLogin();
  shell.classList.remove("is-signed-out");

  const route = currentRoute();
  if (!route) {
    location.replace("#/");
    return;
  }
  const token = ++renderToken;
  markSection(route.section);
  if (fresh) {
    viewRoot.setAttribute("aria-busy", "true");
    if (!viewRoot.firstChild || viewRoot.querySelector(".login")) {
      viewRoot.replaceChildren(h("p", { class: "loading" }, "Loading…"));
    }
  }

  try {
    const data = await route.view.load(route.params);
    if (token !== renderToken) return;
    const content = route.view.render(data, route.params);
    document.title = `${route.view.title(data, route.params)} · Parcours`;
    if (fresh) {
      viewRoot.replaceChildren(content);
      window.scrollTo(0, 0);
      viewRoot.querySelector("h1")?.focus({ preventScroll: true });
    } else {
      morph(viewRoot, h("div", {}, content));
    }
    setLive(
      paused ? "paused" : "live",
      paused ? "Paused" : `Updated ${format.clockTime(Date.now())}`,
    );
  } catch (error) {
    if (token !== renderToken) return;
    if (error instanceof UnauthorizedError) {
      forgetKey();
      return showLogin("The engine refused this admin key. Enter the current one.");
    }
    setLive("error", "Cannot reach the engine, retrying");
    if (fresh) {
      viewRoot.replaceChildren(
        h(
          "div",
          { class: "notice notice--error", role: "alert" },
          h("h1", { tabindex: "-1" }, "This page could not be loaded"),
          h("p", {}, error.message),
        ),
      );
    }
  } finally {
    if (token === renderToken) {
      viewRoot.removeAttribute("aria-busy");
      scheduleRefresh();
    }
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (paused || document.visibilityState === "hidden") return;
  refreshTimer = setTimeout(() => void render({ fresh: false }), REFRESH_INTERVAL_MS);
}

function togglePause() {
  paused = !paused;
  liveToggle.setAttribute("aria-pressed", String(paused));
  liveToggle.textContent = paused ? "Resume" : "Pause";
  if (paused) {
    clearTimeout(refreshTimer);
    setLive("paused", "Paused");
  } else {
    void render({ fresh: false });
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") clearTimeout(refreshTimer);
  else if (storedKey() && !paused) void render({ fresh: false });
});

document.addEventListener("click", (event) => {
  const trigger = event.target.closest("[data-action]");
  if (!trigger) return;
  switch (trigger.dataset.action) {
    case "preview":
      openPreview(trigger.dataset.messageId, trigger);
      break;
    case "sign-out":
      forgetKey();
      showLogin("Signed out.");
      break;
    case "toggle-live":
      togglePause();
      break;
    case "skip":
      event.preventDefault();
      viewRoot.focus();
      break;
  }
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-action='choose-version']");
  if (select)
    location.hash = `#/scenarios/${encodeURIComponent(select.dataset.scenario)}?version=${select.value}`;
});

window.addEventListener("hashchange", () => void render({ fresh: true }));

adoptKeyFromAddress();
void render({ fresh: true });
