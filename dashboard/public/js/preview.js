/**
 * The message preview: a modal dialog showing what the outbox provider "sent". The HTML body is
 * shown in an iframe with an empty `sandbox`, so it runs no script, submits nothing and cannot
 * reach the dashboard; it is loaded through `srcdoc`, never from a URL.
 */
import { h } from "./dom.js";
import * as format from "./format.js";

const messages = new Map();
const dialog = document.getElementById("preview");
const body = document.getElementById("preview-body");
const title = document.getElementById("preview-title");

let opener = null;

/** Keeps outbox messages by id so that a click can show one without another request. */
export function rememberMessages(list) {
  for (const message of list) messages.set(message.id, message);
}

export function isPreviewable(messageId) {
  return messages.has(messageId);
}

/** A short human line for a message: its subject, else its push title, else its text. */
export function messageHeadline(message) {
  return message.subject || message.title || message.text?.slice(0, 80) || "(no content)";
}

export function openPreview(messageId, trigger) {
  const message = messages.get(messageId);
  if (!message) return;
  opener = trigger;

  title.textContent = messageHeadline(message);
  const facts = [
    ["To", message.to],
    ["Channel", message.channel],
    ["Scenario", message.scenarioId ?? "—"],
    ["Step", message.stepId ?? "—"],
    ["Contact", message.contactId],
    ["Created", format.dateTime(message.createdAt)],
    message.url ? ["Link", message.url] : null,
  ].filter(Boolean);

  const parts = [
    h(
      "dl",
      { class: "facts" },
      facts.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value ?? "—"))),
    ),
    message.html
      ? h("iframe", {
          class: "preview__frame",
          sandbox: "",
          srcdoc: message.html,
          title: `Rendered message: ${messageHeadline(message)}`,
          referrerpolicy: "no-referrer",
        })
      : null,
    message.text
      ? h(
          "details",
          { class: "preview__text", open: !message.html },
          h("summary", {}, "Plain text"),
          h("pre", {}, message.text),
        )
      : null,
    message.headers && Object.keys(message.headers).length
      ? h(
          "details",
          { class: "preview__headers" },
          h("summary", {}, "Headers"),
          h(
            "pre",
            {},
            Object.entries(message.headers)
              .map(([name, value]) => `${name}: ${value}`)
              .join("\n"),
          ),
        )
      : null,
  ];
  body.replaceChildren(...parts.filter(Boolean));
  dialog.showModal();
}

dialog.addEventListener("close", () => {
  body.replaceChildren();
  opener?.focus();
  opener = null;
});

dialog.addEventListener("click", (event) => {
  if (event.target === dialog || event.target.closest("[data-action='close-preview']")) {
    dialog.close();
  }
});
