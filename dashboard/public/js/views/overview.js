/** The scenarios list: every scenario with its status, current version and live totals. */
import { get, getAt } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { badge, channelStatusTable, figures, pageHeader, section, table, when } from "./parts.js";

/** Sums one metric over every version and step of a scenario's funnel. */
export function funnelTotal(funnel, metric) {
  let total = 0;
  for (const steps of Object.values(funnel ?? {})) {
    for (const counts of Object.values(steps)) total += counts[metric] ?? 0;
  }
  return total;
}

export const overviewView = {
  title: () => "Scenarios",

  async load() {
    const [{ scenarios }, messageStats, contacts] = await Promise.all([
      get("/api/scenarios"),
      get("/api/stats/messages"),
      get("/api/contacts?limit=1"),
    ]);
    const stats = await Promise.all(
      scenarios.map((scenario) => getAt("/api/stats/scenarios", scenario.id)),
    );
    const rows = scenarios.map((scenario, index) => ({
      ...scenario,
      entered: funnelTotal(stats[index].funnel, "entered"),
      sent: funnelTotal(stats[index].funnel, "sent"),
      converted: funnelTotal(stats[index].funnel, "converted"),
    }));
    return { rows, messages: messageStats.messages, contactTotal: contacts.total };
  },

  render({ rows, messages, contactTotal }) {
    const active = rows.filter((row) => row.status === "active").length;
    const sum = (key) => rows.reduce((total, row) => total + row[key], 0);
    const failed = messages
      .filter((row) => row.status === "failed")
      .reduce((total, row) => total + row.count, 0);

    return h(
      "div",
      { class: "page" },
      pageHeader({ title: "Scenarios" }),
      figures(
        [
          {
            key: "active",
            label: "Active scenarios",
            value: format.count(active),
            note: `of ${rows.length}`,
          },
          { key: "contacts", label: "Contacts", value: format.count(contactTotal) },
          { key: "entered", label: "Entered", value: format.count(sum("entered")) },
          {
            key: "sent",
            label: "Messages sent",
            value: format.count(sum("sent")),
            note: failed ? `${format.count(failed)} failed` : "",
          },
          {
            key: "converted",
            label: "Conversions",
            value: format.count(sum("converted")),
            note: format.percent(sum("converted"), sum("entered")),
          },
        ],
        "Totals",
      ),
      table({
        caption: "All scenarios",
        rowKey: (row) => row.id,
        columns: [
          {
            label: "Scenario",
            cell: (row) => [
              h(
                "a",
                { href: `#/scenarios/${encodeURIComponent(row.id)}`, class: "strong-link" },
                row.name,
              ),
              h("span", { class: "sub" }, row.id),
            ],
          },
          { label: "Status", cell: (row) => badge(row.status) },
          {
            label: "Version",
            cell: (row) => (row.currentVersion ? `v${row.currentVersion}` : "draft"),
          },
          { label: "Entered", numeric: true, cell: (row) => format.count(row.entered) },
          { label: "Sent", numeric: true, cell: (row) => format.count(row.sent) },
          {
            label: "Converted",
            numeric: true,
            cell: (row) => [
              format.count(row.converted),
              row.converted
                ? h("span", { class: "sub" }, format.percent(row.converted, row.entered))
                : null,
            ],
          },
          { label: "Updated", cell: (row) => when(row.updatedAt) },
        ],
        rows,
        empty: "No scenario yet. `npm start` loads the demo ones.",
      }),
      section(
        "Messages by channel and status",
        channelStatusTable({ rows: messages, caption: "Messages by channel and status" }),
      ),
    );
  },
};
