import assert from "node:assert/strict";

/** A JSON request to an engine's REST API; a non-2xx answer fails the test with the body. */
export async function jsonCall<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path} -> ${response.status} ${text.slice(0, 4000)}`);
    return (text ? JSON.parse(text) : undefined) as T;
}
