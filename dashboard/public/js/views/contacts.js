/** The contacts most recently seen, with a link to each one's page. */
import { get } from "../api.js";
import { h } from "../dom.js";
import * as format from "../format.js";
import { pageHeader, table, when } from "./parts.js";

const LIST_LIMIT = 50;

export const contactsView = {
  title: () => "Contacts",

  async load() {
    return get(`/api/contacts?limit=${LIST_LIMIT}`);
  },

  render({ total, contacts }) {
    return h(
      "div",
      { class: "page" },
      pageHeader({
        title: "Contacts",
        children: h(
          "p",
          { class: "hint" },
          total > contacts.length
            ? `The ${format.count(contacts.length)} most recently seen of ${format.count(total)} contacts.`
            : `${format.count(total)} contact${total === 1 ? "" : "s"}, most recently seen first.`,
        ),
      }),
      table({
        caption: "Contacts",
        captionHidden: true,
        rowKey: (contact) => contact.id,
        columns: [
          {
            label: "Contact",
            cell: (contact) => [
              h(
                "a",
                { href: `#/contacts/${encodeURIComponent(contact.id)}`, class: "strong-link" },
                format.contactName(contact),
              ),
              h("span", { class: "sub mono" }, contact.id),
            ],
          },
          { label: "Email", cell: (contact) => contact.email ?? "—" },
          { label: "Phone", cell: (contact) => contact.phone ?? "—" },
          { label: "Time zone", cell: (contact) => contact.timezone ?? "—" },
          { label: "First seen", cell: (contact) => when(contact.firstSeenAt) },
          { label: "Last seen", cell: (contact) => when(contact.lastSeenAt) },
        ],
        rows: contacts,
        empty: "No contact yet.",
      }),
    );
  },
};
