import { env, runInDurableObject } from "cloudflare:test";
import { MANUAL_ALARM_KEY, type ContactObject } from "../../durable-objects/contact-object";

/**
 * Fires a contact's alarm as the runtime would when its time has come: only if one is set, and
 * clearing it first. The suite runs with `ALARMS=manual` because its clock is virtual.
 */
export async function fireAlarm(contactId: string): Promise<boolean> {
  const stub = env.CONTACTS.get(env.CONTACTS.idFromName(contactId));
  return runInDurableObject(stub, async (instance: ContactObject, state) => {
    const recorded = state.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", MANUAL_ALARM_KEY)
      .toArray()[0]?.value;
    if (!recorded) return false;
    state.storage.sql.exec("UPDATE meta SET value = '' WHERE key = ?", MANUAL_ALARM_KEY);
    await instance.alarm();
    return true;
  });
}
