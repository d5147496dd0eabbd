/**
 * Registers the event's JSON Schema under the topic's value subject (TopicNameStrategy:
 * "<topic>-value") with the Confluent Schema Registry API, which Apicurio also serves
 * (/apis/ccompat/v7). Registering an identical schema again returns the same id, so this is
 * safe on every start.
 */
import { sleep } from "../shared/sleep";

export interface RegisteredSchema { subject: string; id: number }

export async function registerSchema(
    baseUrl: string, topic: string, schema: object,
    options: { attempts?: number; retryMs?: number; fetch?: typeof fetch } = {},
): Promise<RegisteredSchema> {
    const { attempts = 30, retryMs = 2_000, fetch: doFetch = fetch } = options;
    const subject = `${topic}-value`;
    const url = `${baseUrl}/subjects/${encodeURIComponent(subject)}/versions`;
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            const response = await doFetch(url, {
                method: "POST",
                headers: { "content-type": "application/vnd.schemaregistry.v1+json", accept: "application/json" },
                body: JSON.stringify({ schemaType: "JSON", schema: JSON.stringify(schema) }),
                signal: AbortSignal.timeout(10_000),
            });
            const text = await response.text();
            if (response.ok) return { subject, id: (JSON.parse(text) as { id: number }).id };
            // 4xx other than 408/429 is the registry refusing this schema (e.g. 409 incompatible): retrying cannot help.
            if (response.status < 500 && response.status !== 408 && response.status !== 429) {
                throw new FatalRegistryError(`POST ${url} -> ${response.status}: ${text.slice(0, 500)}`);
            }
            lastError = `${response.status}: ${text.slice(0, 200)}`;
        } catch (error) {
            if (error instanceof FatalRegistryError) throw error;
            lastError = (error as Error).message; // not reachable yet: the registry may start after us
        }
        if (attempt < attempts) await sleep(retryMs);
    }
    throw new Error(`schema registry ${baseUrl} did not accept ${subject} after ${attempts} attempts: ${lastError}`);
}

class FatalRegistryError extends Error {}
