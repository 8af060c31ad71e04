/**
 * Email through Resend (`POST /emails`). Our message id is the Idempotency-Key, so a retry
 * within Resend's 24-hour window returns the first email instead of sending another.
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

export const RESEND_EMAILS_URL = "https://api.resend.com/emails";

export interface ResendOptions {
  apiKey: string;
  /** Default sender, used when the message names none. */
  from: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}

export function createResendProvider(options: ResendOptions): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    name: "resend",
    async send(message: OutgoingMessage): Promise<SendResult> {
      if (message.html === null && message.text === null) {
        return { status: "failed", error: "resend needs an html or text body" };
      }
      const body = {
        from: message.from ?? options.from,
        to: [message.to],
        subject: message.subject ?? "",
        ...(message.html !== null && { html: message.html }),
        ...(message.text !== null && { text: message.text }),
        headers: message.headers,
      };

      let response: Response;
      try {
        response = await fetchFn(RESEND_EMAILS_URL, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${options.apiKey}`,
            "Content-Type": "application/json",
            "Idempotency-Key": message.id,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "resend");
      }
      if (response.status === 409) return conflict(response);
      if (!response.ok) return failureFromResponse(response, "resend");

      const answer = (await response.json().catch(() => null)) as { id?: unknown } | null;
      if (typeof answer?.id !== "string") {
        return { status: "retry", error: "resend answered without an id" };
      }
      return { status: "sent", providerMessageId: answer.id };
    },
  };
}

/**
 * Resend answers 409 both while the first request with the same key is still running (worth
 * retrying) and when the key was used for a different payload (never going to work).
 */
async function conflict(response: Response): Promise<SendResult> {
  const answer = (await response.json().catch(() => null)) as {
    name?: unknown;
    message?: unknown;
  } | null;
  const detail = typeof answer?.message === "string" ? `: ${answer.message}` : "";
  const error = `resend answered 409${detail}`;
  if (answer?.name === "concurrent_idempotent_requests") return { status: "retry", error };
  return { status: "failed", error };
}
