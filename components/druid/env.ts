/**
 * Druid properties to the environment variables the apache/druid image reads. Its druid.sh turns
 * every `druid_*` variable into a property: `__` -> `_`, then `_` -> `.`. So here: `_` -> `__`,
 * then `.` -> `_`. Keys that would not come back unchanged (`a._b` renders as `a___b`, which
 * druid.sh reads as `a_.b`) are refused rather than silently set under another name.
 */
export function druidEnv<V>(props: Record<string, V>): Record<string, V> {
    const out: Record<string, V> = {};
    for (const [key, value] of Object.entries(props)) {
        if (!/^druid\.[A-Za-z0-9._]+$/.test(key)) {
            throw new Error(`Druid property ${key}: the image maps only druid.* keys of letters, digits, '.' and '_' from the environment`);
        }
        const name = key.replace(/_/g, "__").replace(/\./g, "_");
        if (druidProperty(name) !== key) throw new Error(`Druid property ${key} cannot be expressed as an environment variable (${name} reads back as ${druidProperty(name)})`);
        out[name] = value;
    }
    return out;
}

/** What druid.sh makes of a variable name (its sed: `__` -> placeholder, `_` -> `.`, placeholder -> `_`). */
export function druidProperty(envName: string): string {
    return envName.replace(/__/g, "\0").replace(/_/g, ".").replace(/\0/g, "_");
}
