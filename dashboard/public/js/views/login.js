/** The first screen: asks for the admin key and checks it against the engine before keeping it. */
import { get, UnauthorizedError } from "../api.js";
import { h } from "../dom.js";

export function loginView({ message, onKey }) {
  const input = h("input", {
    id: "admin-key",
    name: "admin-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "admin-key-help",
  });
  const error = h("p", { class: "login__error", role: "alert", id: "login-error" }, message ?? "");
  const submit = h(
    "button",
    { type: "submit", class: "button button--primary" },
    "Open the dashboard",
  );

  const form = h(
    "form",
    {
      class: "login",
      "aria-labelledby": "login-title",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        submit.disabled = true;
        error.textContent = "Checking…";
        try {
          await get("/api/scenarios", key);
          onKey(key);
        } catch (failure) {
          error.textContent =
            failure instanceof UnauthorizedError
              ? "This admin key was refused."
              : `The engine could not be reached: ${failure.message}`;
          input.setAttribute("aria-invalid", "true");
          input.focus();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h1", { id: "login-title", tabindex: "-1" }, "Parcours dashboard"),
    h("p", {}, "Scenarios, live step counts, recent messages and contacts of this engine."),
    h("label", { for: "admin-key" }, "Admin key"),
    input,
    h(
      "p",
      { id: "admin-key-help", class: "hint" },
      "The ",
      h("code", {}, "ADMIN_KEY"),
      " of the engine: ",
      h("code", {}, "npm start"),
      " prints it and keeps it in ",
      h("code", {}, ".dev.vars"),
      ". It is stored in this browser only.",
    ),
    error,
    submit,
  );
  return form;
}
