/**
 * Properties to environment variables, one function per image family. The families disagree on
 * how '.', '_' and '-' are escaped, so each has its own rule (tested against known variables).
 */
export type Properties = Record<string, string>;

/** apache/kafka: `a.b_c-d` -> `KAFKA_A_B__C___D` ('.'->'_', '_'->'__', '-'->'___'). */
export function apacheKafkaEnv(props: Properties): Record<string, string> {
    return mapKeys(props, (k) => `KAFKA_${k.replace(/_/g, "__").replace(/-/g, "___").replace(/\./g, "_").toUpperCase()}`);
}

/**
 * Confluent images (cp-schema-registry, cp-kafka-connect, cp-ksqldb-server, control center):
 * `<PREFIX>_` + property with '.'->'_', '-'->'__', '_'->'___'.
 */
export function confluentEnv(prefix: string, props: Properties): Record<string, string> {
    return mapKeys(props, (k) => `${prefix}_${k.replace(/_/g, "___").replace(/-/g, "__").replace(/\./g, "_").toUpperCase()}`);
}

/** Spring Boot relaxed binding (kafbat kafka-ui): `a.b[0].cD` -> `A_B_0_CD`. */
export function springEnv(props: Properties): Record<string, string> {
    return mapKeys(props, (k) => k.replace(/\[(\d+)\]/g, "_$1").replace(/-/g, "").replace(/\./g, "_").toUpperCase());
}

function mapKeys(props: Properties, key: (k: string) => string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(props)) {
        const name = key(k);
        if (name in out) throw new Error(`properties ${k} and another map to the same variable ${name}`);
        out[name] = v;
    }
    return out;
}
