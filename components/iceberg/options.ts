/** Where a Flink job finds the Iceberg REST catalog and the warehouse files it points at. */
export interface CatalogLocation {
    /** REST catalog URI as the Flink cluster reaches it. */
    uri: string;
    warehouseBucket: string;
    /** S3 endpoint for MinIO or another S3-compatible store; absent on AWS. */
    s3Endpoint?: string;
    pathStyle: boolean;
    region: string;
}

/**
 * The options of a Flink SQL `CREATE CATALOG ... WITH (...)` for the Iceberg REST catalog. No
 * credentials: Flink's containers carry the Flink user's keys in the AWS environment variables,
 * which S3FileIO reads through the default credential chain.
 */
export function icebergCatalogOptions(loc: CatalogLocation): Record<string, string> {
    return {
        type: "iceberg",
        "catalog-type": "rest",
        uri: loc.uri,
        warehouse: `s3://${loc.warehouseBucket}/`,
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        ...(loc.s3Endpoint ? { "s3.endpoint": loc.s3Endpoint } : {}),
        "s3.path-style-access": String(loc.pathStyle),
        "client.region": loc.region,
    };
}

/** Renders the options as the body of a `WITH (...)` clause, quoting as Flink SQL expects. */
export function withClause(options: Record<string, string>): string {
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    return Object.entries(options)
        .map(([k, v]) => `${q(k)} = ${q(v)}`)
        .join(", ");
}
