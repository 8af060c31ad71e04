/** Pieces shared by the views: page headings, figures, tables, badges. */
import { h } from "../dom.js";
import * as format from "../format.js";

export function pageHeader({ title, eyebrow, badges = [], children = [] }) {
  return h(
    "header",
    { class: "page-header" },
    eyebrow ? h("p", { class: "eyebrow" }, eyebrow) : null,
    h("h1", { tabindex: "-1" }, title, ...badges),
    children,
  );
}

/** A row of headline figures: `[{ label, value, note }]`. */
export function figures(items, label) {
  return h(
    "dl",
    { class: "figures", "aria-label": label },
    items.map((item) =>
      h(
        "div",
        { class: "figure", "data-figure": item.key ?? item.label.toLowerCase() },
        h("dt", {}, item.label),
        h(
          "dd",
          {},
          h("span", { class: "figure__value" }, item.value),
          item.note ? h("span", { class: "figure__note" }, item.note) : null,
        ),
      ),
    ),
  );
}

export function badge(text, tone = text) {
  return h("span", { class: `badge badge--${String(tone).replace(/[^a-z0-9-]/gi, "")}` }, text);
}

/**
 * A table with a caption. Columns are `{ label, cell(row), numeric? }`; an empty `rows` shows
 * `empty` in place of the body.
 */
export function table({ caption, columns, rows, empty, rowKey, captionHidden = false }) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: captionHidden ? "visually-hidden" : "" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((column) =>
            h("th", { scope: "col", class: column.numeric ? "numeric" : "" }, column.label),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((row) =>
              h(
                "tr",
                { "data-row": rowKey ? rowKey(row) : null },
                columns.map((column, index) =>
                  h(
                    index === 0 && column.header !== false ? "th" : "td",
                    {
                      scope: index === 0 && column.header !== false ? "row" : null,
                      class: column.numeric ? "numeric" : "",
                    },
                    column.cell(row),
                  ),
                ),
              ),
            )
          : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)),
      ),
    ),
  );
}

/** A time as "3 min ago", with the exact date in a tooltip and for machines. */
export function when(epochMs) {
  if (epochMs === null || epochMs === undefined) return "—";
  return h(
    "time",
    { datetime: new Date(epochMs).toISOString(), title: format.dateTime(epochMs) },
    format.relative(epochMs),
  );
}

export function section(title, ...children) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** Messages counted by channel (rows) and status (columns). */
export function channelStatusTable({ rows, caption }) {
  const statuses = [...new Set(rows.map((row) => row.status))].sort();
  const channels = [...new Set(rows.map((row) => row.channel))].sort();
  const countOf = (channel, status) =>
    rows
      .filter((row) => row.channel === channel && row.status === status)
      .reduce((sum, row) => sum + row.count, 0);
  return table({
    caption,
    captionHidden: true,
    columns: [
      { label: "Channel", cell: (channel) => channel },
      ...statuses.map((status) => ({
        label: status,
        numeric: true,
        cell: (channel) => format.count(countOf(channel, status)),
      })),
      {
        label: "Total",
        numeric: true,
        cell: (channel) => format.count(statuses.reduce((sum, s) => sum + countOf(channel, s), 0)),
      },
    ],
    rows: channels,
    rowKey: (channel) => channel,
    empty: "No message yet.",
  });
}
