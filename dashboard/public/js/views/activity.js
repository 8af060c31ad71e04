/** Recent activity: the latest messages of the outbox provider, each one viewable as sent. */
import { get } from "../api.js";
import { h } from "../dom.js";
import { messageHeadline, rememberMessages } from "../preview.js";
import { badge, pageHeader, table, when } from "./parts.js";

const RECENT_LIMIT = 50;

/** The cell that opens a message: its headline as a button, so it works from the keyboard. */
export function previewButton(message) {
  return h(
    "button",
    {
      type: "button",
      class: "link-button",
      "data-action": "preview",
      "data-message-id": message.id,
      "aria-haspopup": "dialog",
    },
    messageHeadline(message),
  );
}

export function scenarioLink(scenarioId) {
  if (!scenarioId) return "—";
  return h("a", { href: `#/scenarios/${encodeURIComponent(scenarioId)}` }, scenarioId);
}

export const activityView = {
  title: () => "Recent activity",

  async load() {
    const { messages } = await get(`/api/outbox?limit=${RECENT_LIMIT}`);
    rememberMessages(messages);
    return { messages };
  },

  render({ messages }) {
    return h(
      "div",
      { class: "page" },
      pageHeader({
        title: "Recent activity",
        children: h(
          "p",
          { class: "hint" },
          `The latest ${RECENT_LIMIT} messages of the local outbox provider. Select a subject to see the message as it was rendered.`,
        ),
      }),
      table({
        caption: "Latest messages",
        captionHidden: true,
        rowKey: (message) => message.id,
        columns: [
          { label: "Sent", cell: (message) => when(message.createdAt) },
          { label: "Channel", header: false, cell: (message) => badge(message.channel, "channel") },
          { label: "Subject", cell: (message) => previewButton(message) },
          { label: "To", cell: (message) => h("span", { class: "mono" }, message.to) },
          { label: "Scenario", cell: (message) => scenarioLink(message.scenarioId) },
          { label: "Step", cell: (message) => message.stepId ?? "—" },
          {
            label: "Contact",
            cell: (message) =>
              h(
                "a",
                { href: `#/contacts/${encodeURIComponent(message.contactId)}` },
                message.contactId,
              ),
          },
        ],
        rows: messages,
        empty: "Nothing sent yet. Post an event to /v1/batch and it shows up here.",
      }),
    );
  },
};
