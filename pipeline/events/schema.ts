/**
 * The event's contract: a zod schema (the source), the JSON Schema derived from it (what the
 * producer registers in the Schema Registry) and a validator. The Flink job's dead-letter
 * predicate (processor/sql) checks the same rules in SQL; the pipeline suite feeds both the same
 * malformed records.
 */
import { z } from "zod";
import { countries, devices, eventTypes, type ViewingEvent } from "./model";

// Not strict: a field added later does not make older consumers reject events (the Flink job
// ignores unknown fields too); validation strips them.
export const viewingEventSchema = z.object({
    event_id: z.uuid().describe("Unique id of this event (UUID)"),
    session_id: z.uuid().describe("Playback session (UUID)"),
    user_id: z.string().min(1).max(64),
    title_id: z.string().min(1).max(64),
    device: z.enum(devices),
    country: z.enum(countries).describe("ISO 3166-1 alpha-2"),
    event_type: z.enum(eventTypes),
    position_seconds: z.number().int().min(0),
    bitrate_kbps: z.number().int().min(1),
    event_time: z.number().int().min(0).describe("Epoch milliseconds, UTC"),
});

// Compile-time check that the schema and the model's interface describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const schemaMatchesModel: Same<z.infer<typeof viewingEventSchema>, ViewingEvent> = true;

/** Draft-07: the dialect Confluent's and Apicurio's JSON Schema support handles everywhere. */
export const viewingEventJsonSchema: Record<string, unknown> = {
    ...z.toJSONSchema(viewingEventSchema, { target: "draft-7", io: "input" }),
    title: "ViewingEvent",
    description: "A player event on the raw viewing-events topic",
};

export type Validation = { ok: true; event: ViewingEvent } | { ok: false; errors: string[] };

/** Validates a decoded value; errors name the field, e.g. "event_type: Invalid option ...". */
export function validateEvent(value: unknown): Validation {
    const result = viewingEventSchema.safeParse(value);
    if (result.success) return { ok: true, event: result.data };
    return { ok: false, errors: result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`) };
}

/** Validates raw bytes/text as they arrive on the topic (not JSON is an error too). */
export function validateRecord(text: string): Validation {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        return { ok: false, errors: [`(root): not JSON: ${(error as Error).message}`] };
    }
    return validateEvent(value);
}
