/**
 * Webhook and internal messages to a URL: the message is POSTed as JSON with our message id as
 * Idempotency-Key, so the receiver can drop the repeats a retry may cause.
 */
import {
  DEFAULT_TIMEOUT_MS,
  failureFromNetwork,
  failureFromResponse,
  isHttpUrl,
  type FetchLike,
  type OutgoingMessage,
  type Provider,
  type SendResult,
} from "./provider";

export interface WebhookOptions {
  fetch?: FetchLike;
  timeoutMs?: number;
}

export function createWebhookProvider(options: WebhookOptions = {}): Provider {
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return {
    name: "webhook",
    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!isHttpUrl(message.to)) {
        return { status: "failed", error: "webhook needs an http(s) URL as recipient" };
      }
      const body = {
        id: message.id,
        contactId: message.contactId,
        scenarioId: message.scenarioId,
        stepId: message.stepId,
        channel: message.channel,
        subject: message.subject,
        html: message.html,
        text: message.text,
        title: message.title,
        url: message.url,
        headers: message.headers,
      };

      let response: Response;
      try {
        response = await fetchFn(message.to, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "Idempotency-Key": message.id,
            "User-Agent": "Parcours-Webhook/1",
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        return failureFromNetwork(error, "webhook");
      }
      if (!response.ok) return failureFromResponse(response, "webhook");

      // Only the status matters; the body is read so the connection can be reused.
      await response.body?.cancel();
      return { status: "sent", providerMessageId: `webhook:${message.id}` };
    },
  };
}
