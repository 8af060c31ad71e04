/** One contact: traits, consent, runs (with the step each waits on and until when), messages. */
import { get, getAt } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { rememberMessages } from "../preview.js";
import { previewButton, scenarioLink } from "./activity.js";
import { badge, figures, pageHeader, section, table, when } from "./parts.js";

const WAIT_KINDS = {
  duration: "a delay",
  until: "a time of day",
  window: "the send window",
  event: "an event",
  engagement: "an engagement",
};

export const contactView = {
  title: ({ contact }) => format.contactName(contact),

  async load({ id }) {
    const [contact, outbox] = await Promise.all([
      getAt("/api/contacts", id),
      get(`/api/outbox?contact=${encodeURIComponent(id)}&limit=200`),
    ]);
    rememberMessages(outbox.messages);
    return { contact, previewable: new Set(outbox.messages.map((message) => message.id)) };
  },

  render({ contact, previewable }) {
    const traits = Object.entries(contact.traits ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const active = contact.runs.filter((run) => run.status === "active").length;

    return h(
      "div",
      { class: "page" },
      h(
        "nav",
        { class: "breadcrumb", "aria-label": "Breadcrumb" },
        h("a", { href: "#/contacts" }, "Contacts"),
        " / ",
        contact.id,
      ),
      pageHeader({
        title: format.contactName(contact),
        children: h(
          "p",
          { class: "hint" },
          [contact.traits?.email, contact.traits?.phone, contact.timezone]
            .filter(Boolean)
            .join(" · "),
        ),
      }),
      figures(
        [
          {
            key: "runs",
            label: "Runs",
            value: format.count(contact.runs.length),
            note: `${active} active`,
          },
          { key: "messages", label: "Messages", value: format.count(contact.messages.length) },
          {
            key: "consent",
            label: "Consent choices",
            value: format.count(contact.consent?.length ?? 0),
          },
        ],
        "About this contact",
      ),
      h(
        "div",
        { class: "contact-layout" },
        h(
          "div",
          { class: "side" },
          section(
            "Traits",
            h(
              "dl",
              { class: "facts" },
              h("div", {}, h("dt", {}, "id"), h("dd", { class: "mono" }, contact.id)),
              h(
                "div",
                {},
                h("dt", {}, "first seen"),
                h("dd", {}, format.dateTime(contact.firstSeenAt)),
              ),
              h(
                "div",
                {},
                h("dt", {}, "last seen"),
                h("dd", {}, format.dateTime(contact.lastSeenAt)),
              ),
              contact.timezone
                ? h("div", {}, h("dt", {}, "time zone"), h("dd", {}, contact.timezone))
                : null,
              traits.map(([name, value]) =>
                h(
                  "div",
                  {},
                  h("dt", {}, name),
                  h("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
                ),
              ),
            ),
          ),
          section(
            "Consent",
            table({
              caption: "Consent by topic",
              captionHidden: true,
              rowKey: (row) => row.topic,
              columns: [
                { label: "Topic", cell: (row) => row.topic },
                { label: "Status", cell: (row) => badge(row.status) },
                { label: "Source", cell: (row) => row.source },
                { label: "Updated", cell: (row) => when(row.updatedAtMs) },
              ],
              rows: contact.consent ?? [],
              empty: "No choice recorded: marketing topics use their default.",
            }),
          ),
        ),
        h(
          "div",
          { class: "main-column" },
          section("Runs", runsTable(contact.runs)),
          section("Messages", messagesTable(contact.messages, previewable)),
        ),
      ),
    );
  },
};

function currentStep(run) {
  if (run.status !== "active") return h("span", { class: "sub" }, run.endReason ?? "—");
  if (!run.wait) return "—";
  return [
    h("strong", {}, run.wait.stepId),
    h("span", { class: "sub" }, `waiting for ${WAIT_KINDS[run.wait.kind] ?? run.wait.kind}`),
  ];
}

function runsTable(runs) {
  const sorted = [...runs].sort((a, b) => b.enteredAtMs - a.enteredAtMs);
  return table({
    caption: "Runs",
    captionHidden: true,
    rowKey: (run) => run.id,
    columns: [
      {
        label: "Scenario",
        cell: (run) => [
          scenarioLink(run.scenarioId),
          h("span", { class: "sub" }, `v${run.version}`),
        ],
      },
      { label: "Status", cell: (run) => badge(run.status) },
      { label: "Current step", cell: currentStep },
      {
        label: "Wait due",
        cell: (run) =>
          run.status === "active" && run.wait
            ? [
                when(run.wait.dueAtMs),
                h("span", { class: "sub" }, format.dateTime(run.wait.dueAtMs)),
              ]
            : "—",
      },
      { label: "Entered", cell: (run) => when(run.enteredAtMs) },
      {
        label: "Goal",
        cell: (run) =>
          run.convertedAtMs
            ? badge("converted")
            : run.goalDeadlineMs
              ? h("span", { class: "sub" }, `open until ${format.dateTime(run.goalDeadlineMs)}`)
              : "—",
      },
    ],
    rows: sorted,
    empty: "This contact has entered no scenario.",
  });
}

function messagesTable(messages, previewable) {
  return table({
    caption: "Messages",
    captionHidden: true,
    rowKey: (message) => message.id,
    columns: [
      { label: "Created", cell: (message) => when(message.createdAt) },
      {
        label: "Subject",
        header: false,
        cell: (message) =>
          previewable.has(message.id) ? previewButton(message) : (message.subject ?? "—"),
      },
      { label: "Channel", cell: (message) => message.channel },
      {
        label: "Status",
        cell: (message) => [
          badge(message.status),
          message.error ? h("span", { class: "sub" }, message.error) : null,
        ],
      },
      {
        label: "Scenario",
        cell: (message) => [
          scenarioLink(message.scenarioId),
          h("span", { class: "sub" }, message.stepId),
        ],
      },
    ],
    rows: messages,
    empty: "No message yet.",
  });
}
