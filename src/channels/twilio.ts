/**
 * SMS through Twilio's Messages API: a form-encoded POST with Basic auth. The API takes no
 * idempotency key, so a retry after a lost answer may deliver twice.
 */
import {
  DEFAULT_TIMEOUT_MS,
  failureFromNetwork,
  failureFromResponse,
  type FetchLike,
  type OutgoingMessage,
  type Provider,
  type SendResult,
} from "./provider";

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** A Twilio phone number or alphanumeric sender id, used when the message names none. */
  from: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}

export function twilioMessagesUrl(accountSid: string): string {
  return `https://api.twilio.com/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
}

export function createTwilioProvider(options: TwilioOptions): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const authorization = `Basic ${btoa(`${options.accountSid}:${options.authToken}`)}`;

  return {
    name: "twilio",
    async send(message: OutgoingMessage): Promise<SendResult> {
      if (message.text === null) return { status: "failed", error: "twilio needs a text body" };
      const form = new URLSearchParams({
        To: message.to,
        From: message.from ?? options.from,
        Body: message.text,
      });

      let response: Response;
      try {
        response = await fetchFn(twilioMessagesUrl(options.accountSid), {
          method: "POST",
          headers: {
            Authorization: authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            Accept: "application/json",
          },
          body: form.toString(),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "twilio");
      }
      if (!response.ok) return failureFromResponse(response, "twilio");

      const answer = (await response.json().catch(() => null)) as { sid?: unknown } | null;
      if (typeof answer?.sid !== "string") {
        return { status: "retry", error: "twilio answered without a message sid" };
      }
      return { status: "sent", providerMessageId: answer.sid };
    },
  };
}
