/**
 * Email through Postmark's single-send API (`POST /email`). Postmark takes no idempotency key,
 * so our message id travels as metadata and a retry after a lost answer may deliver twice.
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

export const POSTMARK_EMAIL_URL = "https://api.postmarkapp.com/email";

export interface PostmarkOptions {
  serverToken: string;
  /** Default sender, used when the message names none. */
  from: string;
  /** Postmark keeps marketing mail on a broadcast stream; "outbound" is its transactional one. */
  messageStream?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}

export function createPostmarkProvider(options: PostmarkOptions): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    name: "postmark",
    async send(message: OutgoingMessage): Promise<SendResult> {
      if (message.html === null && message.text === null) {
        return { status: "failed", error: "postmark needs an html or text body" };
      }
      const body = {
        From: message.from ?? options.from,
        To: message.to,
        Subject: message.subject ?? "",
        ...(message.html !== null && { HtmlBody: message.html }),
        ...(message.text !== null && { TextBody: message.text }),
        Headers: Object.entries(message.headers).map(([Name, Value]) => ({ Name, Value })),
        MessageStream: options.messageStream ?? "outbound",
        Metadata: { message_id: message.id },
      };

      let response: Response;
      try {
        response = await fetchFn(POSTMARK_EMAIL_URL, {
          method: "POST",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/json",
            "X-Postmark-Server-Token": options.serverToken,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "postmark");
      }
      if (!response.ok) return failureFromResponse(response, "postmark");

      const answer = (await response.json().catch(() => null)) as { MessageID?: unknown } | null;
      if (typeof answer?.MessageID !== "string") {
        return { status: "retry", error: "postmark answered without a MessageID" };
      }
      return { status: "sent", providerMessageId: answer.MessageID };
    },
  };
}
