import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";

export class ContactObject extends DurableObject<Env> {
  async ping(): Promise<string> {
    return "pong";
  }
}
